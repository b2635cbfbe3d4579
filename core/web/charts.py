"""Charts drawn on the server as SVG: no script, nothing fetched, works offline and under a
strict Content-Security-Policy (presentation attributes only, no style attributes).

Every value is a number we computed; labels go through `escape`, so a chart never carries
markup from the store.
"""

from __future__ import annotations

from html import escape

from markupsafe import Markup

COLOURS = {"inserted": "#2e7d32", "updated": "#1565c0", "deleted": "#c62828", "kept": "#555"}


def sparkline(values: list[int], width: int = 120, height: int = 24, label: str = "") -> Markup:
    """A line over the values (oldest first), with the last value as its title."""
    if not values:
        return Markup("")
    runs = len(values)
    values = values * 2 if runs == 1 else values  # one run: a flat line, not nothing
    low, high = min(values), max(values)
    span = (high - low) or 1
    step = width / max(len(values) - 1, 1)
    points = " ".join(
        f"{i * step:.1f},{height - 2 - (v - low) / span * (height - 4):.1f}"
        for i, v in enumerate(values)
    )
    title = escape(f"{label}: {values[-1]} now ({low} to {high} over {runs} runs)")
    return Markup(
        f'<svg class="spark" width="{width}" height="{height}" viewBox="0 0 {width} {height}"'
        f' role="img" aria-label="{title}"><title>{title}</title>'
        f'<polyline points="{points}" fill="none" stroke="{COLOURS["kept"]}"'
        ' stroke-width="1.5"/></svg>'
    )


def runs_chart(runs: list[dict], width: int = 640, height: int = 160) -> Markup:
    """Inserted, updated and deleted per run as stacked bars (oldest first), and the total of
    kept records as a line over them on its own scale."""
    if not runs:
        return Markup("")
    ops = ("inserted", "updated", "deleted")
    top = max(max(sum(r[o] for o in ops) for r in runs), 1)
    kept = [sum(r.get("kept", {}).values()) for r in runs]
    kept_top = max(max(kept), 1)
    slot = width / len(runs)
    bar = min(max(slot * 0.7, 1), 40)
    parts = []
    for i, r in enumerate(runs):
        y = height
        for o in ops:
            h = r[o] / top * (height - 10)
            if h:
                y -= h
                parts.append(
                    f'<rect x="{i * slot:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}"'
                    f' fill="{COLOURS[o]}"><title>run {r["run"]}: {r[o]} {o}</title></rect>'
                )
    if any(kept):
        points = " ".join(
            f"{i * slot + bar / 2:.1f},{height - k / kept_top * (height - 10):.1f}"
            for i, k in enumerate(kept)
        )
        parts.append(
            f'<polyline points="{points}" fill="none" stroke="{COLOURS["kept"]}"'
            ' stroke-width="2"><title>kept records</title></polyline>'
        )
    legend = ", ".join(f"{o} ({COLOURS[o]})" for o in (*ops, "kept"))
    return Markup(
        f'<svg class="chart" width="{width}" height="{height}" viewBox="0 0 {width} {height}"'
        f' role="img" aria-label="runs: {escape(legend)}">{"".join(parts)}</svg>'
    )
