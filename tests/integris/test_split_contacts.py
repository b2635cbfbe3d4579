"""Combined contacts ("Mr and Mrs" → two people) under the safeguards: a bad combined contact
or link keeps the stored halves and their links, as a plain contact keeps its stored copy;
and a made-up half ID never takes the ID of a contact the MIS really sent."""

from __future__ import annotations

from .support import SMALL, fake, small, sync

COMBINED = SMALL["contacts"][0]  # 9001, "Mr and Mrs", linked to pupil 4821
LINK = SMALL["contact-links"][0]  # 4821 → 9001

ENTITIES = ("students", "contacts", "contact-links")


def snapshot(store) -> dict:
    return {e: store.export("oak", e, {}) for e in ENTITIES}


def test_a_combined_contact_that_fails_validation_keeps_both_stored_halves(store):
    sync(store, fake())
    before = snapshot(store)
    assert [c["id"] for c in before["contacts"]] == ["9001-1", "9001-2", "9002"]
    bad = dict(COMBINED, Email=42)
    result = sync(store, fake(small(contacts=[bad, SMALL["contacts"][1]])))
    assert result["status"] == "ok" and result["deleted"] == 0
    assert snapshot(store) == before
    assert store.changes("oak") == []  # nothing rippled: halves, links, pupils unchanged
    assert result["left_out_by_reason"] == {"contacts: failed validation": 1}


def test_a_bad_link_to_a_combined_contact_keeps_both_stored_half_links(store):
    sync(store, fake())
    before = snapshot(store)
    bad = dict(LINK, ParentalResponsibility="yes")
    result = sync(store, fake(small(contact_links=[bad, SMALL["contact-links"][1]])))
    assert result["status"] == "ok" and result["deleted"] == 0
    assert snapshot(store) == before
    assert store.changes("oak") == []


def test_a_real_contact_keeps_its_id_and_the_combined_one_is_left_out(store):
    real = {
        "ContactID": "9001-1",
        "Title": "Dr",
        "Forename": "Lee",
        "Surname": "Marsh",
        "Email": "lee@example.org",
    }
    contacts = [COMBINED, SMALL["contacts"][1], real]
    links = [*SMALL["contact-links"], {"StudentID": "4822", "ContactID": "9001-1"}]
    result = sync(store, fake(small(contacts=contacts, contact_links=links)))
    assert result["status"] == "ok"
    kept = {c["id"]: c for c in store.export("oak", "contacts", {})}
    assert sorted(kept) == ["9001-1", "9002"]
    assert (kept["9001-1"]["surname"], kept["9001-1"]["split_from"]) == ("Marsh", None)
    assert store.explain("oak", "contacts", "9001")["reasons"] == [
        "split ID 9001-1 is taken by contact 9001-1"
    ]
    assert store.explain("oak", "contact-links", "4821:9001")["reasons"] == [
        "contact not kept",
        "contact 9001 left out: split ID 9001-1 is taken by contact 9001-1",
    ]


def test_a_clash_arriving_later_overwrites_no_half_with_the_other_person(store):
    """Halves 9001-1/-2 are stored; then the MIS sends a contact of its own as 9001-1."""
    sync(store, fake())
    real = {"ContactID": "9001-1", "Title": "Dr", "Forename": "Lee", "Surname": "Marsh"}
    contacts = [COMBINED, SMALL["contacts"][1], real]
    links = [*SMALL["contact-links"], {"StudentID": "4822", "ContactID": "9001-1"}]
    sync(store, fake(small(contacts=contacts, contact_links=links)))
    kept = {c["id"]: c for c in store.export("oak", "contacts", {})}
    assert sorted(kept) == ["9001-1", "9002"]
    assert kept["9001-1"]["split_from"] is None and kept["9001-1"]["surname"] == "Marsh"
    stored_links = store.export("oak", "contact-links", {})
    links_now = {(lk["student_id"], lk["contact_id"]) for lk in stored_links}
    assert links_now == {("4822", "9001-1"), ("4822", "9002")}
