"""What a hostile probe of the CLI found: an empty ID answered as if it named a record, a
password in a connector's base_url refused by `run` only, a folder given as --config, and
`purge` with no config. Each is a usage or config error in one line (exit 2), or, for purge,
what the listing commands do."""

from __future__ import annotations

import pytest

from .operator_support import one_line

# the fixtures `mis_sync` and `trust`
pytest_plugins = ["tests.core.operator_support"]

# -- an empty or blank ID names no record ---------------------------------------------------

TAKING_AN_ID = {
    "explain": (["explain", "students", "{id}"], "ID"),
    "set": (["set", "teacher", "{id}", "room", "B12"], "ID"),
    "forget": (["forget", "students", "{id}", "--yes"], "ID"),
    "export-person": (["export-person", "students", "{id}"], "ID"),
    "changes": (["changes", "--id", "{id}"], "--id"),
    "left-out": (["left-out", "--id", "{id}"], "--id"),
    "dismiss-a": (["duplicates", "dismiss", "{id}", "c01"], "A"),
    "dismiss-b": (["duplicates", "dismiss", "c01", "{id}"], "B"),
    "report": (["duplicates", "report", "{id}", "c01"], "A"),
}


@pytest.mark.parametrize("given, state", [("", "empty"), ("  \t", "blank")], ids=["empty", "blank"])
@pytest.mark.parametrize("command", TAKING_AN_ID)
def test_an_empty_or_blank_id_is_a_usage_error_naming_it(trust, mis_sync, command, given, state):
    template, name = TAKING_AN_ID[command]
    args = [a.replace("{id}", given) for a in template]
    result = mis_sync("--config", str(trust), *args, "--school", "north")
    assert result.exit_code == 2, result.stdout + result.stderr
    assert one_line(result) == (
        f"mis-sync: error: {name} {given!r} is {state}: give the record's ID as the MIS gives it"
    )
    assert result.stdout == ""


def test_an_id_with_spaces_around_it_is_still_looked_up(trust, mis_sync):
    """Only an ID that is nothing but blanks is refused: the MIS's own IDs are kept as given."""
    result = mis_sync("--config", str(trust), "explain", "students", " s01", "--school", "north")
    assert result.exit_code == 0, result.stderr
    assert "never sent" in result.stdout
