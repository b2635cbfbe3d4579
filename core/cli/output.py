"""What the commands print: JSON, tables, run summaries and progress, in one place."""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager, redirect_stdout

import click

from . import pass_broken_pipe_on


def print_json(value) -> None:
    click.echo(json_text(value), nl=False)


def json_text(value) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"


# A spreadsheet runs a cell that begins with one of these as a formula (OWASP, "CSV
# Injection"): such a cell is written with a leading apostrophe, which shows as text.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value) -> str:
    """One exported value as plain text: true/false, lists as `;`-joined IDs, no formulas."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ";".join(_item_id(v) for v in value)
    text = str(value)
    return "'" + text if isinstance(value, str) and text.startswith(FORMULA_START) else text


def _item_id(item) -> str:
    """A list holds IDs, or structs naming one (a class's teachers: their `teacher_id`)."""
    if isinstance(item, dict):
        item = next((v for k, v in item.items() if k.endswith("id")), "")
    return csv_cell(item)


def csv_text(columns: list[str], rows: list[dict], *, bom: bool = False) -> str:
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n" if bom else "\n")
    writer.writerow(columns)
    writer.writerows([csv_cell(row.get(c)) for c in columns] for row in rows)
    return ("\ufeff" if bom else "") + out.getvalue()


def write_file(path: str, text: str) -> None:
    """Write `text` as UTF-8, whole or not at all: a reader never sees half a file."""
    import os
    import tempfile
    from pathlib import Path

    from ..errors import ConfigError

    target = Path(path)
    try:
        fd, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    except OSError as exc:  # a folder that is not there, or not writable: the operator's -o
        raise ConfigError(f"{path}: cannot write there: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


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
    """`--format table|csv|json` as `fmt` (cli.md: every listing); the global `--json` is its
    shorthand (ctx.json), see `fmt_of`."""
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(["table", "csv", "json"]),
        default="table",
        show_default=True,
    )(command)


def fmt_of(ctx, fmt: str) -> str:
    """The format a listing prints: `--json` (global) wins over `--format`."""
    return "json" if ctx.json else fmt


@contextmanager
def output_to(path: str | None):
    """Print into the file `-o FILE` names instead of stdout: whole or not at all, as
    `write_file` writes it, and only when the command succeeds."""
    if path is None:
        yield
        return
    import io

    buffer = io.StringIO()
    with redirect_stdout(buffer):
        yield
    write_file(path, buffer.getvalue())


def write_csv(columns: list[str], rows: list[dict]) -> None:
    """CSV on stdout, its cells as `csv_text` makes them (formulas neutralised)."""
    click.echo(csv_text(columns, rows), nl=False)


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


RUNS_HEADER = f"{'run':>6}  {'status':<7}  {'started (UTC)':<16}  {'took':>6}" + "".join(
    f"{h:>7}" for h in ("ins", "upd", "del", "out", "merged")
)
RUNS_INDENT = " " * 8


def print_runs(rows: list[dict], width: int = 80) -> None:
    """`runs` for people: two lines a run, so it fits 80 columns whatever the school's key.

    The first line holds the fixed-width facts (numbers right-aligned, a duration); the
    second, indented, the school (never cut), its connector, who ran it, whether a mass delete was
    allowed, and the message, wrapped to the width.
    """
    import textwrap

    click.echo(RUNS_HEADER)
    for r in rows:
        counts = "".join(
            f"{r[k]:>7}" for k in ("inserted", "updated", "deleted", "left_out", "merged")
        )
        started = (r["started"] or "").replace("T", " ").removesuffix("Z")[:16]
        took = duration(r["started"], r["finished"])
        click.echo(f"{r['run']:>6}  {r['status']:<7}  {started:<16}  {took:>6}{counts}")
        about = [r["school"], r["connector"], f"by {r['origin']}"]
        if r["mass_delete_allowed"] and not (r["message"] or "").startswith("mass delete"):
            about.append("mass delete allowed")
        if r["message"]:
            about.append(r["message"])
        for line in textwrap.wrap(
            " · ".join(about),
            width=width,
            initial_indent=RUNS_INDENT,
            subsequent_indent=RUNS_INDENT,
            break_long_words=False,
            break_on_hyphens=False,
        ):
            click.echo(line)


def duration(started: str | None, finished: str | None) -> str:
    """`1m05s` between two of the store's ISO times; `…` for a run still going."""
    from datetime import datetime

    if not started or not finished:
        return "…"
    seconds = int(
        (datetime.fromisoformat(finished) - datetime.fromisoformat(started)).total_seconds()
    )
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def print_summary(result: dict) -> None:
    """Plain lines, not rich: a cron run should not pay for rich's import to say "no changes"."""
    click.echo(summary_text(result))
    if result["status"] == "dry-run" and any(result[k] for k in ("inserted", "updated", "deleted")):
        print_plan(result["changes"])


def summary_text(result: dict) -> str:
    if result.get("exit_code") and result["status"] != "dry-run":
        return f"{result['school']}: {result['status']}: {result['message']}"
    counts = ", ".join(
        f"{k} {result[k]}" for k in ("inserted", "updated", "deleted", "left_out", "merged")
    )
    label = "dry run (nothing written)" if result["status"] == "dry-run" else f"run {result['run']}"
    lines = [f"{result['school']}: {label}: {counts}"]
    if result.get("message"):
        lines.append(f"  {result['message']}")
    if not any(result[k] for k in ("inserted", "updated", "deleted")):
        lines.append("  no changes")
    for reason, count in result["left_out_by_reason"].items():
        lines.append(f"  left out {count:>5}  {reason}")
    if result["near_duplicates"]:
        lines.append(
            f"  {len(result['near_duplicates'])} near-duplicate contact pairs"
            " to check at source (mis-sync duplicates)"
        )
    return "\n".join(lines)


class SchoolsProgress:
    """Several schools on a terminal: each school's summary as it finishes, above an overall
    bar. Elsewhere (cron, pipes, --json, --quiet) it shows nothing and `live` is False, so
    the caller prints the summaries at the end."""

    def __init__(self, total: int, quiet: bool) -> None:
        self.total = total
        self.live = not quiet and sys.stdout.isatty()
        self.bar = None

    def __enter__(self):
        if not self.live:
            return None
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
        from rich.progress import Progress as Bar

        self.bar = Bar(
            TextColumn("schools"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            transient=True,
        )
        self.bar.start()
        self.task = self.bar.add_task("schools", total=self.total)
        return self.finished

    def finished(self, result: dict) -> None:
        """Called from each school's thread as it ends; rich's console serialises output."""
        self.bar.console.print(summary_text(result), markup=False, highlight=False)
        self.bar.advance(self.task)

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.stop()


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
