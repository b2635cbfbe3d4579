"""Everything a store holds, as text, for tests that search it for values that must be gone."""

from __future__ import annotations

import contextlib
import json
import zlib

from sqlalchemy import inspect, select, text

from mis_sync.core.store.tables import metadata


def stored_text(engine) -> str:
    """Every column of every row of every table in the database (not only the ones the code
    knows: a table added later is searched too); bytes also as decompressed, since a
    connector's source state may be zlib-compressed."""
    names = set(inspect(engine).get_table_names())
    assert set(metadata.tables) <= names, names
    out = []
    with engine.connect() as conn:
        for name in sorted(names):
            for row in conn.execute(select(text("*")).select_from(text(name))):
                for value in row:
                    out.append(_text(value))
    return "\n".join(out)


def _text(value) -> str:
    if isinstance(value, bytes | memoryview):
        raw = bytes(value)
        with contextlib.suppress(zlib.error):  # not compressed: searched as it is
            raw = zlib.decompress(raw)
        return raw.decode("utf-8", "replace")
    return str(value)


def assert_only_canonical_fields(engine) -> None:
    """Records hold only canonical fields, and events only name canonical fields (or a
    delete's reason): nothing a source sends beyond the model is kept under another key."""
    from mis_sync.core.schema import ENTITIES, export_fields

    with engine.connect() as conn:
        records = conn.execute(select(text("entity, data")).select_from(text("records"))).all()
        events = conn.execute(select(text("entity, op, changes")).select_from(text("events")))
        events = events.all()
    assert records and events
    for entity, data in records:
        assert set(json.loads(data)) <= set(export_fields(entity)), (entity, data)
    for entity, op, changes in events:
        allowed = {"reason"} if op == "delete" else set(ENTITIES[entity].__struct_fields__)
        assert set(json.loads(changes)) <= allowed, (entity, op, changes)
