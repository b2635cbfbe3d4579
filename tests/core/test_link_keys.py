"""Contact-link keys cannot be ambiguous when IDs hold `:` (or `%`), and migration 0004 moves
stored links to the new keys. On SQLite and PostgreSQL."""

from __future__ import annotations

import json

from sqlalchemy import create_engine, select, text

from mis_sync.core.schema import link_id, link_pair
from mis_sync.core.store import Store, migrate
from mis_sync.core.store import tables as t

from .builders import klass, link, school, student
from .test_tracking import Source, sync


def with_colons():
    """Student `a:b` with contact `c`, and student `a` with contact `b:c`: two links."""
    ds = school()
    ds.add("students", [student("a:b"), student("a"), student("50%")])
    ds.records["classes"]["MA7"] = klass("MA7", ["S1", "S2", "a:b", "a", "50%"], ["T2"])
    ds.add("contacts", [_contact("c"), _contact("b:c"), _contact("%3A")])
    ds.add("contact-links", [link("a:b", "c"), link("a", "b:c"), link("50%", "%3A")])
    return ds


def _contact(cid):
    from .builders import contact

    return contact(cid, forename=f"F{cid}")


def test_links_whose_ids_hold_colons_are_stored_apart(store):
    result = sync(store, Source(with_colons))
    assert result["status"] == "ok" and result["left_out"] == 0
    pairs = [(lk["student_id"], lk["contact_id"]) for lk in store.export("s1", "contact-links", {})]
    assert ("a:b", "c") in pairs and ("a", "b:c") in pairs and ("50%", "%3A") in pairs
    assert len(pairs) == 5
    assert store.explain("s1", "contact-links", "a%3Ab:c")["kept"] is True
    assert store.explain("s1", "contact-links", "a:b%3Ac")["kept"] is True
    assert sync(store, Source(with_colons))["updated"] == 0


def test_link_keys_read_back_into_their_pair():
    for pair in [("a:b", "c"), ("a", "b:c"), ("%3A", "%25:"), ("4821", "9001")]:
        assert link_pair(link_id(*pair)) == pair
    assert link_id("4821", "9001") == "4821:9001"  # plain IDs read as they always did
    assert link_pair("a:b:c") is None


def test_migration_0004_rekeys_stored_links_from_their_pair(db_url):
    engine = create_engine(db_url)
    migrate.upgrade(engine, "0003")
    rows = [  # as 0003 keyed them: the first is ambiguous, the second plain
        ("a:b:c", {"student_id": "a:b", "contact_id": "c"}),
        ("4821:9001", {"student_id": "4821", "contact_id": "9001"}),
        ("50%:x", {"student_id": "50%", "contact_id": "x"}),
    ]
    with engine.begin() as conn:
        for rid, pair in rows:
            conn.execute(
                t.records.insert().values(
                    school="oak",
                    entity="contact-links",
                    id=rid,
                    data=json.dumps(pair),
                    hash="h",
                    deleted=False,
                    run=1,
                )
            )
        conn.execute(
            t.left_out.insert().values(
                school="oak", entity="contact-links", id="a:b:c", reasons="[]"
            )
        )
    migrate.upgrade(engine)
    with engine.connect() as conn:
        ids = sorted(conn.execute(select(t.records.c.id)).scalars())
        left = conn.execute(text("SELECT count(*) FROM left_out")).scalar()
    assert ids == ["4821:9001", "50%25:x", "a%3Ab:c"]
    assert left == 0
    engine.dispose()
    store = Store(db_url)  # the store opens at HEAD
    store.close()


# Each person of `with_colons` and the one link naming them (its key is escaped, schema.link_id)
THEIR_LINK = [
    ("students", "a:b", "a%3Ab:c"),
    ("students", "a", "a:b%3Ac"),
    ("students", "50%", "50%25:%253A"),
    ("contacts", "c", "a%3Ab:c"),
    ("contacts", "b:c", "a:b%3Ac"),
    ("contacts", "%3A", "50%25:%253A"),
]


def test_a_person_whose_id_holds_a_colon_or_percent_has_their_link_exported(store):
    sync(store, Source(with_colons))
    for entity, rid, key in THEIR_LINK:
        answer = store.person("s1", entity, rid)
        links = [r["id"] for r in answer["records"] if r["entity"] == "contact-links"]
        assert links == [key], (entity, rid)
        events = {e["id"] for e in answer["events"] if e["entity"] == "contact-links"}
        assert events == {key}, (entity, rid)


def test_forgetting_a_pupil_whose_id_holds_a_colon_or_percent_erases_their_link(store):
    sync(store, Source(with_colons))
    for rid in ("a:b", "50%"):
        done = store.forget("s1", "students", rid, who="tester")
        assert [k for k in done["keys"] if k[0] == "contact-links"] == [
            ("contact-links", key) for _, r, key in THEIR_LINK if r == rid
        ]
    pairs = {(lk["student_id"], lk["contact_id"]) for lk in store.export("s1", "contact-links", {})}
    assert ("a:b", "c") not in pairs and ("50%", "%3A") not in pairs
    assert ("a", "b:c") in pairs  # pupil `a`'s link is not pupil `a:b`'s


def test_changes_of_an_id_with_a_colon_or_percent_find_its_links(store):
    sync(store, Source(with_colons))
    for entity, rid, key in THEIR_LINK:
        found = {(e["entity"], e["id"]) for e in store.changes("s1", rid=rid)}
        assert ("contact-links", key) in found, (entity, rid)
        assert (entity, rid) in found
