"""docs/hooks.md documents every hook under its exact signature (as datasette's docs test)."""

import inspect
import re
from pathlib import Path

import pytest

from mis_sync.core import hookspecs

DOCS = (Path(__file__).resolve().parents[2] / "docs" / "hooks.md").read_text()
HOOKS = [
    name
    for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
    if name.startswith("mis_sync_")
]
HEADINGS = set(re.findall(r"^## (mis_sync_\w+\(.*\))$", DOCS, re.M))


@pytest.mark.parametrize("name", HOOKS)
def test_every_hook_has_a_section_headed_by_its_signature(name):
    params = ", ".join(inspect.signature(getattr(hookspecs, name)).parameters)
    assert f"{name}({params})" in HEADINGS


@pytest.mark.parametrize("name", HOOKS)
def test_every_parameter_is_listed_with_an_example(name):
    signature = inspect.signature(getattr(hookspecs, name))
    heading = f"## {name}({', '.join(signature.parameters)})"
    section = DOCS.split(heading, 1)[1].split("\n## ", 1)[0]
    for param in signature.parameters:
        assert f"- `{param}`:" in section, f"{name}: parameter {param} is not listed"
    assert f"def {name}(" in section, f"{name}: no example implementation"


def test_no_section_documents_a_hook_that_does_not_exist():
    assert {h.split("(")[0] for h in HEADINGS} == set(HOOKS)


def test_there_are_hooks_to_document():
    assert {"mis_sync_fetch", "mis_sync_map", "mis_sync_merge", "mis_sync_filter"} <= set(HOOKS)
