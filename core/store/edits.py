"""Hand edits: a school-owned field set or cleared on a stored record, audited as an event.

`Store` gets this by inheriting `Edits`; the fields themselves are declared in core/local.py
and by connectors, and a run never writes them (store/diff.py leaves them out of the hash).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, delete, select

from ..errors import ConfigError
from . import tables as t
from .lifecycle import hand_event
from .tables import record_row as _is


class Edits:
    """`set_local`, and the one-line reason a record cannot take a local field."""

    def set_local(
        self,
        school: str,
        entity: str,
        rid: str,
        field: str,
        value: str | None,
        *,
        who: str | None = None,
        now: datetime | None = None,
    ) -> None:
        """Set a school-owned field of a stored record, or clear it (value None).

        A change is audited as a `local` event with who (the OS user unless given: the
        dashboard passes its user), when, and the old and new value. A record that is not
        stored is refused, saying why: left out (and for what reason), no longer sent, or
        never sent.
        """
        with self.engine.begin() as conn:
            known = conn.execute(
                select(t.records.c.id).where(
                    _is(t.records, school, entity, rid), t.records.c.deleted.is_(False)
                )
            ).first()
            if known is None:
                raise ConfigError(self._not_settable(school, entity, rid))
            mine = and_(_is(t.local_fields, school, entity, rid), t.local_fields.c.field == field)
            old = conn.execute(select(t.local_fields.c.value).where(mine)).scalar()
            if old != value:
                changes = {field: [old, value]}
                hand_event(conn, school, [(entity, rid)], "local", changes, who=who, now=now)
            conn.execute(delete(t.local_fields).where(mine))
            if value is not None:
                conn.execute(
                    t.local_fields.insert().values(
                        school=school, entity=entity, id=rid, field=field, value=value
                    )
                )

    def _not_settable(self, school: str, entity: str, rid: str) -> str:
        reasons = self.explain(school, entity, rid)["reasons"]
        what = f"school {school!r}: {entity.removesuffix('s')} {rid}"
        if reasons[0] == "never sent by the source":
            return f"{what} is not stored: the MIS has never sent it (check the ID)"
        if reasons[0].startswith("no longer sent by the source"):
            return f"{what} is no longer sent by the MIS, so it is not stored"
        if reasons[0].startswith("forgotten"):
            return f"{what} is not stored: {reasons[0]}"
        return f"{what} is sent by the MIS but left out: {'; '.join(reasons)}"
