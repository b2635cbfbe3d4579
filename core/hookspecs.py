"""The hooks a connector or a school's plugin implements, in the order a run calls them.

Each spec's docstring is its reference doc; docs/hooks.md repeats the signatures and a test
keeps the two in step. Hooks are always called with keyword arguments, so an
implementation may take only the parameters it needs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import httpx
    import msgspec

    from .config import School
    from .schema import Dataset

hookspec = pluggy.HookspecMarker("mis_sync")
hookimpl = pluggy.HookimplMarker("mis_sync")


# -- set-up ---------------------------------------------------------------------------------


@hookspec
def mis_sync_options() -> type[msgspec.Struct]:
    """Declare the per-school config keys this plugin understands.

    Return a msgspec Struct type whose fields are the keys (with types and defaults). Every
    plugin's answer is collected: a key that no plugin and no core option declares is a
    config error naming it. Read the decoded values with ``school.options(YourStruct)``.
    """


@hookspec
def mis_sync_local_fields(register: Callable[[str, str], None]) -> None:
    """Declare fields the school owns, which no sync may overwrite or clear.

    Call ``register(entity, field)`` for each. Core registers ``("teachers", "room")``.
    Local fields are kept out of the record's content hash and stored apart from it, so a
    run can neither change them nor see them change.

    :param register: callback taking an entity name and a field name.
    """


@hookspec
def mis_sync_fix_texts(register: Callable[[str, str], None]) -> None:
    """Word what a school should fix in its MIS, per rule, for the left-out worklist.

    Call ``register(rule, text)`` for each rule worded for your MIS. Rules are named
    ``entity.rule`` (``students.in-no-class``, ``teachers.blank-name``; the list is in
    ``mis_sync.core.fixes.RULES``, and ``*.other`` covers a plugin's own reasons). ``text``
    is a format string over the record: ``{id}``, ``{entity}``, ``{noun}``, ``{rule}`` (the
    first reason), ``{detail}`` (the rest), ``{student}`` and ``{contact}`` for links,
    ``{fields}`` for blank names, ``{type}`` for a type that does not qualify. The first
    registration of a rule wins; core's own wording is registered last (``trylast``).

    :param register: callback taking a rule name and its text.
    """


@hookspec(firstresult=True)
def mis_sync_demo() -> Demo | None:
    """Return the connector's bundled demo school, used by ``mis-sync run NAME --demo``.

    Stops at the first non-None result: a run has one source.
    """


# -- a run ----------------------------------------------------------------------------------


@hookspec(firstresult=True)
def mis_sync_fetch(
    school: School,
    transport: httpx.BaseTransport | None,
    progress: Callable[[str, int, int | None], None],
) -> Any:
    """Read everything the run needs from the MIS and return it in the connector's own shape.

    Stops at the first non-None result: exactly one source feeds a run. Raise
    :class:`mis_sync.core.errors.SourceError` to fail the run (exit 1, nothing stored).

    :param school: the school's config, with ``school.options(...)`` for connector keys.
    :param transport: an httpx transport to use instead of the network (demo, tests), or None.
    :param progress: call ``progress(resource, records_so_far, total_or_None)`` as pages arrive.
    """


@hookspec(firstresult=True)
def mis_sync_map(school: School, raw: Any, source_state: bytes | None) -> Dataset:
    """Turn what ``mis_sync_fetch`` returned into canonical records.

    Stops at the first non-None result. Records that fail validation go into
    ``dataset.invalid`` with a reason naming resource, ID and field; the run goes on.

    A source that sends only what changed (a delta) cannot be mapped from ``raw`` alone, and
    the stored canonical records cannot fill the gap: they hold only what the rules kept, and
    one canonical record may be built from many source rows. So a connector may set
    ``dataset.source_state`` to its own picture of the source; core stores it in the same
    transaction as the run's records and hands it back here on the school's next run.

    :param school: the school's config.
    :param raw: the value ``mis_sync_fetch`` returned.
    :param source_state: the ``dataset.source_state`` last stored for the school by this
        connector (a successful run that sets none keeps the one before), or None.
    """


@hookspec
def mis_sync_merge(school: School, dataset: Dataset) -> None:
    """Combine records that are one thing in the world, before eligibility is judged.

    Every implementation runs, in place on ``dataset``. Core's duplicate-contact merge runs
    last (``trylast``), so a plugin may merge earlier by rules of its own. Merging comes
    before filtering because a merged contact keeps the union of its links.

    :param school: the school's config.
    :param dataset: the mapped records; change it in place.
    """


@hookspec
def mis_sync_filter(school: School, dataset: Dataset) -> None:
    """Leave records out, each with a reason (``dataset.leave_out(entity, id, reason)``).

    Every implementation runs. Core's eligibility fixed point runs last (``trylast``), so
    what a school's plugin leaves out is followed through: a class that loses its only
    student goes too, and every record left out says why.

    :param school: the school's config.
    :param dataset: the merged records; change it in place.
    """


# -- the data's lifecycle -------------------------------------------------------------------


@hookspec(firstresult=True)
def mis_sync_forget(
    school: School, entity: str, record_id: str, source_state: bytes
) -> bytes | None:
    """Return the school's source state without one person, for ``mis-sync forget``.

    Core erases the person from its own tables; a connector that keeps a ``source_state``
    (see ``mis_sync_map``) holds their source rows there too, and only it can read them.
    Stops at the first non-None result. When no implementation answers, core drops the whole
    state, and the connector rebuilds it from its next full export.

    :param school: the school's config.
    :param entity: ``students``, ``contacts`` or ``teachers``.
    :param record_id: the person's ID in the store (the source ID it was mapped from).
    :param source_state: the state last stored for the school by this connector.
    """


class Demo:
    """A connector's demo school: options for the config and a transport serving its data."""

    def __init__(self, options: dict[str, Any], transport: httpx.BaseTransport | None) -> None:
        self.options = options
        self.transport = transport
