"""A connector for a folder of JSON files, one per entity: the smallest complete connector.

Copy it with `mis-sync new-connector NAME`. For a real MIS, change `source.py` (how records are
read, what they look like) and `mapping.py` (how they become canonical records)."""

from pathlib import Path

import msgspec

from mis_sync.core.hookspecs import Demo, hookimpl

from .mapping import to_dataset
from .source import read_folder


class Options(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The school's config keys for this connector. A real MIS: base_url, credentials..."""

    path: str  # the folder holding students.json, contacts.json, ...


@hookimpl
def mis_sync_options():
    return Options


# The entry-point name: `mis_sync_NAME` as scaffolded by `mis-sync new-connector NAME`.
NAME = __name__.rsplit(".", 1)[-1].removeprefix("mis_sync_")


@hookimpl
def mis_sync_demo():
    # The bundled sample school; a real MIS would serve a fake of itself here (see integris).
    sample = str(Path(__file__).parent / "sample")
    return Demo(options={"connector": NAME, "path": sample}, transport=None)


@hookimpl
def mis_sync_fetch(school, progress):
    # A real MIS: use mis_sync.core.http.HttpClient (retries, Retry-After, redaction) here.
    return read_folder(Path(school.options(Options).path), progress)


@hookimpl
def mis_sync_map(raw):
    return to_dataset(raw)
