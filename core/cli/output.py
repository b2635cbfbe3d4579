"""What the commands print: JSON, tables, run summaries and progress, in one place."""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager, redirect_stdout

import click

from . import pass_broken_pipe_on


def print_json(value) -> None:
    click.echo(json.dumps(value, indent=2, ensure_ascii=False))


OPS = {
    "insert": "inserted",
    "update": "updated",
    "delete": "deleted",
    "restore": "restored",
    "local": "edited by hand",
    "forget": "forgotten",
}
PAGE = 50  # events `changes` shows unless --limit says otherwise


def listing_options(command):
    """`--format table|csv|json` and its `--json` shorthand, as `fmt` (cli.md: every listing)."""
    command = click.option("--json", "as_json", is_flag=True, help="Same as --format json.")(
        command
    )
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(["table", "csv", "json"]),
        default="table",
        show_default=True,
    )(command)


@contextmanager
def output_to(path: str | None):
    """Print into the file `-o FILE` names instead of stdout (the whole file, or nothing:
    it is written beside the target and moved into place only when the command succeeds)."""
    if path is None:
        yield
        return
    import os
    import tempfile

    folder = os.path.dirname(os.path.abspath(path))
    fd, partial = tempfile.mkstemp(prefix=".mis-sync-", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out, redirect_stdout(out):
            yield
        os.replace(partial, path)
    finally:
        if os.path.exists(partial):
            os.unlink(partial)


def write_csv(columns: list[str], rows: list[dict]) -> None:
    import csv

    writer = csv.DictWriter(
        sys.stdout, fieldnames=columns, lineterminator="\n", extrasaction="ignore"
    )
    writer.writeheader()
    writer.writerows(rows)


def show_value(value) -> str:
    """A value as a person reads it: no None, no quotes; a class's teacher as `T12 (main)`."""
    if value is None:
        return "(empty)"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):
        first, *rest = [show_value(v) for v in value.values()] or [""]
        return f"{first} ({', '.join(rest)})" if rest else first
    if isinstance(value, list):
        return ", ".join(show_value(v) for v in value) or "(none)"
    return str(value)


def _field_change(name: str, old, new) -> str:
    if isinstance(old, list) or isinstance(new, list):  # a list changes as a set of members
        before = [show_value(v) for v in old or []]
        after = [show_value(v) for v in new or []]
        moves = [f"+{v}" for v in after if v not in before]
        moves += [f"-{v}" for v in before if v not in after]
        return f"{name}: {' '.join(moves) or '(reordered)'}"
    return f"{name}: {show_value(old)} → {show_value(new)}"


def fmt_changes(op: str, changes: dict) -> str:
    """One event in words: an insert's fields, an update's changes, a delete's reason."""
    if op == "delete":
        return f"reason: {changes.get('reason', '')}"
    if op == "insert":
        return "; ".join(f"{k}: {show_value(new)}" for k, (_, new) in changes.items() if k != "id")
    return "; ".join(_field_change(k, old, new) for k, (old, new) in changes.items())


def fmt_counts(counts: dict[str, dict[str, int]]) -> list[str]:
    """`students: 3 inserted, 1 updated`, one line per entity."""
    return [
        f"{entity}: " + ", ".join(f"{ops[o]} {OPS[o]}" for o in OPS if ops.get(o))
        for entity, ops in counts.items()
    ]


def change_table(title: str, events: list[dict]) -> None:
    """Events as a table; hand edits and erasures (`local`, `forget`) also say who and when."""
    by_hand = any("who" in e for e in events)
    table(
        title,
        ["entity", "id", "op", "changes", *(("who", "when") if by_hand else ())],
        [{**e, "changes": fmt_changes(e["op"], e["changes"])} for e in events],
    )


def table(title: str, columns: list[str], rows: list[dict]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for col in columns:
        table.add_column(col)
    for row in rows:
        table.add_row(*("" if row.get(c) is None else str(row.get(c)) for c in columns))
    # piped output is not cut to 80 columns: scripts and logs should see whole values
    console = Console(width=None if sys.stdout.isatty() else 240)
    console.on_broken_pipe = pass_broken_pipe_on
    console.print(table)


def print_summary(result: dict) -> None:
    """Plain lines, not rich: a cron run should not pay for rich's import to say "no changes"."""
    if result.get("exit_code") and result["status"] != "dry-run":
        click.echo(f"{result['school']}: {result['status']}: {result['message']}")
        return
    counts = ", ".join(
        f"{k} {result[k]}" for k in ("inserted", "updated", "deleted", "left_out", "merged")
    )
    dry = result["status"] == "dry-run"
    label = "dry run (nothing written)" if dry else f"run {result['run']}"
    click.echo(f"{result['school']}: {label}: {counts}")
    if result.get("message"):
        click.echo(f"  {result['message']}")
    if not any(result[k] for k in ("inserted", "updated", "deleted")):
        click.echo("  no changes")
    elif dry:
        print_plan(result["changes"])
    for reason, count in result["left_out_by_reason"].items():
        click.echo(f"  left out {count:>5}  {reason}")
    if result["near_duplicates"]:
        click.echo(
            f"  {len(result['near_duplicates'])} near-duplicate contact pairs"
            " to check at source (mis-sync duplicates)"
        )


def print_plan(events: list[dict], first: int = 10) -> None:
    """A dry run's plan: the first events of each entity and op (the deletes a mass delete
    would make among them), as `changes` shows a run's."""
    shown, seen = [], {}
    for event in events:
        key = (event["entity"], event["op"])
        seen[key] = seen.get(key, 0) + 1
        if seen[key] <= first:
            shown.append(event)
    change_table("Planned changes", shown)
    for (entity, op), n in seen.items():
        if n > first:
            click.echo(f"  {entity}: {n - first} more {OPS[op]} (run --dry-run --json lists all)")


class Progress:
    """A rich progress bar on a terminal; silent when stdout is not one (cron, pipes, --json)."""

    def __init__(self, label: str, quiet: bool) -> None:
        self.label = label
        self.enabled = not quiet and sys.stdout.isatty()
        self.bar = None
        self.tasks: dict[str, int] = {}

    def __enter__(self):
        if not self.enabled:
            return None
        from rich.progress import Progress as Bar

        self.bar = Bar(transient=True)
        self.bar.start()
        return self.update

    def update(self, resource: str, done: int, total: int | None) -> None:
        if resource not in self.tasks:
            self.tasks[resource] = self.bar.add_task(f"{self.label}: {resource}", total=total)
        self.bar.update(self.tasks[resource], completed=done, total=total)

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.stop()
