"""What a run changes: the new dataset against the stored hashes, with no I/O of its own.

Only hashes are loaded for every stored record; the old JSON is read for the few rows that
changed, so an unchanged re-run costs one SELECT and a hash per record.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable

import msgspec

from ..schema import ENTITIES, INTERNAL_FIELDS, Dataset

_encode = msgspec.json.Encoder().encode  # field order, for dicts built in field order too
_decode = msgspec.json.decode


class Change(msgspec.Struct, kw_only=True):
    entity: str
    id: str
    op: str  # insert, update, delete, restore
    data: bytes | None = None  # new JSON (None for delete)
    hash: str | None = None
    changes: dict = {}


class Plan(msgspec.Struct, kw_only=True):
    changes: list[Change] = []
    left_out_put: dict[tuple[str, str], bytes] = {}
    left_out_drop: list[tuple[str, str]] = []
    live: Counter = msgspec.field(default_factory=Counter)  # stored, not deleted, per entity
    deletes: Counter = msgspec.field(default_factory=Counter)

    def counts(self) -> dict[str, int]:
        ops = Counter(c.op for c in self.changes)
        return {
            "inserted": ops["insert"] + ops["restore"],
            "updated": ops["update"],
            "deleted": ops["delete"],
        }


def stored_fields(local: dict[str, set[str]]) -> dict[str, tuple[str, ...]]:
    """Per entity, the fields a sync owns: canonical minus internal minus local."""
    return {
        entity: tuple(
            f
            for f in cls.__struct_fields__
            if f not in INTERNAL_FIELDS and f not in local.get(entity, ())
        )
        for entity, cls in ENTITIES.items()
    }


def encoder(entity: str, fields: tuple[str, ...]) -> Callable[[msgspec.Struct], bytes]:
    """The JSON a record of `entity` is stored as: its `fields`, in order."""
    if fields == ENTITIES[entity].__struct_fields__:
        return _encode  # every field is stored: no dict in between
    return lambda record: _encode({f: getattr(record, f) for f in fields})


def digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def classify(
    dataset: Dataset,
    stored: dict[str, dict[str, str]],
    stored_left_out: dict[tuple[str, str], bytes],
    fields: dict[str, tuple[str, ...]],
) -> Plan:
    """Sort every record into insert/update/delete by hash; field diffs come later.

    :param stored: per entity, the hash of every live (not soft-deleted) record by ID. Which
        inserts are returns of soft-deleted records is for `mark_restores` to say.
    """
    plan = Plan()
    protected = {(i.entity, i.id) for i in dataset.invalid if i.id}
    gone: list[tuple[str, str]] = []
    for entity, records in dataset.records.items():
        live = stored.get(entity, {})
        plan.live[entity] = len(live)
        to_json = encoder(entity, fields[entity])
        for rid, record in records.items():
            data = to_json(record)
            new = digest(data)
            old = live.get(rid)
            if old == new:
                continue
            op = "insert" if old is None else "update"
            plan.changes.append(Change(entity=entity, id=rid, op=op, data=data, hash=new))
        gone += ((entity, rid) for rid in live.keys() - records.keys())
    for entity, rid in sorted(gone):  # deletes come last, in key order, in every database
        if (entity, rid) in protected:
            continue
        out = dataset.left_out[entity].get(rid)
        reason = "; ".join(out.reasons) if out else "no longer sent by the source"
        plan.changes.append(Change(entity=entity, id=rid, op="delete", changes={"reason": reason}))
        plan.deletes[entity] += 1
    new_left_out = {
        (entity, rid): _encode(out.reasons)
        for entity, outs in dataset.left_out.items()
        for rid, out in outs.items()
    }
    plan.left_out_put = {k: v for k, v in new_left_out.items() if stored_left_out.get(k) != v}
    plan.left_out_drop = [k for k in stored_left_out if k not in new_left_out]
    return plan


def mark_restores(plan: Plan, deleted: set[tuple[str, str]]) -> None:
    """An insert of a soft-deleted record (entity, id) is its return: it keeps its row."""
    for c in plan.changes:
        if c.op == "insert" and (c.entity, c.id) in deleted:
            c.op = "restore"


def field_changes(old_json: bytes | str | None, new_json: bytes) -> dict[str, list]:
    """Per changed field, [old, new]; an insert shows every set field against null."""
    old = _decode(old_json) if old_json else {}
    new = _decode(new_json)
    return {
        k: [old.get(k), v] for k, v in new.items() if old.get(k) != v and (old or v is not None)
    }
