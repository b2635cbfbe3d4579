"""`mis-sync new-connector NAME`: a new connector package, copied from connectors/_template.

The copy is a working package on day one: its sample data syncs, and its tests already run
the conformance kit. Only `*.tmpl` files hold placeholders ({name}, {package}); the code is
copied as it is, since it never names its own package.
"""

from __future__ import annotations

import keyword
import re
import shutil
from importlib.resources import files
from pathlib import Path

from .errors import ConfigError

TEMPLATE = "mis_sync.connectors._template"
CODE = ("__init__.py", "source.py", "mapping.py")
NAME = re.compile(r"[a-z][a-z0-9_]{1,39}")


def new_connector(name: str, dest: Path) -> Path:
    """Write `dest/mis-sync-NAME/` and return it; refuse a bad name or an existing folder."""
    from .plugins import installed_connectors

    if not NAME.fullmatch(name) or keyword.iskeyword(name):
        raise ConfigError(
            f"connector name {name!r}: use 2 to 40 lower-case letters, digits or _, starting"
            " with a letter (it becomes the entry point and part of the package name)"
        )
    if name in installed_connectors():
        raise ConfigError(f"connector name {name!r}: a connector of that name is installed")
    target = dest / f"mis-sync-{name}"
    if target.exists():
        raise ConfigError(f"{target}: already exists; choose another --dest or name")
    package = f"mis_sync_{name}"
    template = files(TEMPLATE)
    fill = {"name": name, "package": package}

    def filled(*parts: str) -> str:
        return template.joinpath(*parts).read_text().format(**fill)

    # Everything is read and filled in before anything is written: no half-made package.
    out = {f"{package}/{module}": template.joinpath(module).read_text() for module in CODE}
    for sample in template.joinpath("sample").iterdir():
        if sample.name.endswith(".json"):
            out[f"{package}/sample/{sample.name}"] = sample.read_text()
    out["pyproject.toml"] = filled("pyproject.toml.tmpl")
    out["tests/test_conformance.py"] = filled("tests", "test_conformance.py.tmpl")
    out["tests/cassettes/.keep"] = ""
    out[f"docs/{name}.md"] = filled("docs", "connector.md.tmpl")
    try:
        for relative, text in out.items():
            path = target / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    except OSError as exc:
        shutil.rmtree(target, ignore_errors=True)
        raise ConfigError(f"{target}: cannot write the new connector: {exc}") from None
    return target
