"""Core's local fields: values the school sets that no sync may overwrite (sync-rules.md)."""

from .hookspecs import hookimpl


@hookimpl(trylast=True)
def mis_sync_local_fields(register):
    register("teachers", "room")
