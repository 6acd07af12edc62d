"""The report as a terminal table, Markdown (job summaries, PR comments) or a self-contained HTML page."""

from __future__ import annotations

import html
from typing import Any

from ci_gocache.reporting.summary import human_bytes

COLUMNS = ["workflow", "job", "cache", "runs", "exact", "partial", "miss", "restore p50", "restore p90", "size"]
HIT_COLOURS = {"exact": "#2da44e", "partial": "#d4a72c", "miss": "#cf222e"}


def _rows(report: dict[str, Any]) -> list[list[str]]:
    rows = []
    for cache in report["caches"]:
        restore = cache["restore_seconds"]
        rows.append([
            cache["workflow"], cache["job"], cache["cache"], str(cache["runs"]),
            f"{cache['exact_rate']:.0%}", f"{cache['partial_rate']:.0%}", f"{cache['miss_rate']:.0%}",
            _seconds(restore["median"]), _seconds(restore["p90"]), human_bytes(cache["size_bytes"]),
        ])
    return rows


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}s"


def _title(report: dict[str, Any]) -> str:
    source = report["source"]
    runs = report["runs"]
    noun = "pipelines" if source["kind"] == "gitlab" else "runs"
    return f"Go cache report for {source['project']} ({runs['read']} of {runs['listed']} {noun} read)"


def _notes(report: dict[str, Any]) -> list[str]:
    notes = []
    if report["partial"]:
        notes.append(f"PARTIAL: {report['partial_reason']}.")
    if report["runs"]["logs_missing"]:
        missing = report["runs"]["logs_missing"]
        noun = "job logs" if report["source"]["kind"] == "gitlab" else "run logs"
        notes.append(f"{missing} {noun} {'was' if missing == 1 else 'were'} missing (expired or erased).")
    if not report["caches"]:
        notes.append("No cache restores found in the logs read (no ci-gocache records, actions/cache, setup-go or "
                     "GitLab cache lines).")
    return notes


def render_table(report: dict[str, Any]) -> str:
    rows = [COLUMNS, *_rows(report)]
    widths = [max(len(row[column]) for row in rows) for column in range(len(COLUMNS))]
    numeric = set(range(3, len(COLUMNS)))
    lines = [_title(report), ""]
    for index, row in enumerate(rows):
        cells = [cell.rjust(widths[column]) if column in numeric else cell.ljust(widths[column])
                 for column, cell in enumerate(row)]
        lines.append("  ".join(cells).rstrip())
        if index == 0:
            lines.append("  ".join("-" * width for width in widths))
    storage = report["storage"]
    if storage:
        lines.append("")
        lines.append(f"Cache storage: {storage['entries']} entries, {human_bytes(storage['total_bytes'])} of "
                     f"{human_bytes(storage['limit_bytes'])}; pull requests {human_bytes(storage['pull_request_bytes'])}, "
                     f"default branch {human_bytes(storage['default_branch_bytes'])}")
    for warning in report["warnings"]:
        lines.append(f"warning: {warning['message']}")
    lines.extend(_notes(report))
    return "\n".join(lines)


def _markdown_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(report: dict[str, Any]) -> str:
    lines = [f"### {_markdown_cell(_title(report))}", ""]
    if report["partial"]:
        lines += [f"> [!WARNING]\n> Partial report: {_markdown_cell(report['partial_reason'])}.", ""]
    lines.append("| " + " | ".join(COLUMNS) + " |")
    lines.append("|" + "|".join("---" if index < 3 else "---:" for index in range(len(COLUMNS))) + "|")
    for row in _rows(report):
        lines.append("| " + " | ".join(_markdown_cell(cell) for cell in row) + " |")
    storage = report["storage"]
    if storage:
        lines += ["", f"Cache storage: **{human_bytes(storage['total_bytes'])}** of {human_bytes(storage['limit_bytes'])} "
                      f"in {storage['entries']} entries (pull requests {human_bytes(storage['pull_request_bytes'])}, "
                      f"default branch {human_bytes(storage['default_branch_bytes'])})."]
    if report["warnings"]:
        lines += ["", "**Warnings**", ""]
        lines += [f"- {_markdown_cell(warning['message'])}" for warning in report["warnings"]]
    notes = [note for note in _notes(report) if not note.startswith("PARTIAL")]
    if notes:
        lines += [""] + [f"_{note}_" for note in notes]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- HTML with inline SVG charts

CHART_WIDTH, CHART_HEIGHT, MARGIN = 720, 220, 40
LINE_COLOURS = ["#0969da", "#8250df", "#bf3989", "#1a7f37", "#9a6700", "#cf222e"]


def _hit_rate_chart(timeline: list[dict[str, Any]]) -> str:
    """Stacked bars per day: the share of exact, partial and miss restores."""
    if not timeline:
        return "<p>No data.</p>"
    plot_width = CHART_WIDTH - 2 * MARGIN
    plot_height = CHART_HEIGHT - 2 * MARGIN
    slot = plot_width / len(timeline)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="Hit rate over time" '
             f'width="{CHART_WIDTH}" height="{CHART_HEIGHT}" viewBox="0 0 {CHART_WIDTH} {CHART_HEIGHT}">']
    parts.append(_axes(plot_width, plot_height, "100%", "0%"))
    for index, day in enumerate(timeline):
        total = day["exact"] + day["partial"] + day["miss"]
        if not total:
            continue
        x = MARGIN + index * slot + slot * 0.15
        bottom = MARGIN + plot_height
        for kind in ("exact", "partial", "miss"):
            height = plot_height * day[kind] / total
            if height <= 0:
                continue
            bottom -= height
            parts.append(f'<rect class="{kind}" x="{x:.1f}" y="{bottom:.1f}" width="{slot * 0.7:.1f}" height="{height:.1f}" '
                         f'fill="{HIT_COLOURS[kind]}"><title>{html.escape(day["date"])}: {day[kind]} {kind} '
                         f'of {total}</title></rect>')
        if len(timeline) <= 16 or index % max(1, len(timeline) // 8) == 0:
            parts.append(f'<text x="{x + slot * 0.35:.1f}" y="{CHART_HEIGHT - MARGIN + 14}" font-size="10" '
                         f'text-anchor="middle">{html.escape(day["date"][5:])}</text>')
    legend_x = MARGIN
    for kind, colour in HIT_COLOURS.items():
        parts.append(f'<rect x="{legend_x}" y="8" width="10" height="10" fill="{colour}"/>'
                     f'<text x="{legend_x + 14}" y="17" font-size="11">{kind}</text>')
        legend_x += 70
    parts.append("</svg>")
    return "".join(parts)


def _restore_chart(timeline: list[dict[str, Any]]) -> str:
    """One line per cache: the median restore seconds of each day."""
    caches = sorted({cache for day in timeline for cache in day["restore_seconds_median"]})
    values = [seconds for day in timeline for seconds in day["restore_seconds_median"].values()]
    if not values:
        return "<p>No restore times in the logs read.</p>"
    top = max(values) or 1.0
    plot_width = CHART_WIDTH - 2 * MARGIN
    plot_height = CHART_HEIGHT - 2 * MARGIN
    step = plot_width / max(1, len(timeline) - 1)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="Restore time" '
             f'width="{CHART_WIDTH}" height="{CHART_HEIGHT}" viewBox="0 0 {CHART_WIDTH} {CHART_HEIGHT}">']
    parts.append(_axes(plot_width, plot_height, f"{top:.1f}s", "0s"))
    for number, cache in enumerate(caches):
        colour = LINE_COLOURS[number % len(LINE_COLOURS)]
        points = []
        for index, day in enumerate(timeline):
            seconds = day["restore_seconds_median"].get(cache)
            if seconds is None:
                continue
            x = MARGIN + (index * step if len(timeline) > 1 else plot_width / 2)
            y = MARGIN + plot_height - plot_height * seconds / top
            points.append((x, y, day["date"], seconds))
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _, _ in points)
        parts.append(f'<polyline class="restore" fill="none" stroke="{colour}" stroke-width="2" points="{path}"/>')
        for x, y, date, seconds in points:
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"><title>{html.escape(cache)} '
                         f'{html.escape(date)}: {seconds:.1f}s</title></circle>')
        parts.append(f'<text x="{MARGIN + 4}" y="{MARGIN + 12 + 13 * number}" font-size="11" fill="{colour}">'
                     f'{html.escape(cache)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _axes(plot_width: float, plot_height: float, top_label: str, bottom_label: str) -> str:
    bottom = MARGIN + plot_height
    return (f'<line x1="{MARGIN}" y1="{MARGIN}" x2="{MARGIN}" y2="{bottom}" stroke="#8c959f"/>'
            f'<line x1="{MARGIN}" y1="{bottom}" x2="{MARGIN + plot_width}" y2="{bottom}" stroke="#8c959f"/>'
            f'<text x="{MARGIN - 4}" y="{MARGIN + 4}" font-size="10" text-anchor="end">{html.escape(top_label)}</text>'
            f'<text x="{MARGIN - 4}" y="{bottom}" font-size="10" text-anchor="end">{html.escape(bottom_label)}</text>')


def render_html(report: dict[str, Any]) -> str:
    """One file, no external resources: inline CSS and SVG, no scripts."""
    title = html.escape(_title(report))
    header = "".join(f"<th>{html.escape(column)}</th>" for column in COLUMNS)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>" for row in _rows(report))
    warnings = "".join(f'<li class="warning">{html.escape(warning["message"])}</li>' for warning in report["warnings"])
    notes = "".join(f"<p class=\"note\">{html.escape(note)}</p>" for note in _notes(report))
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; color: #1f2328; }}
table {{ border-collapse: collapse; margin: 1rem 0; }}
th, td {{ border: 1px solid #d0d7de; padding: 4px 8px; }}
td:nth-child(n+4) {{ text-align: right; }}
.warning {{ color: #9a6700; }}
.note {{ color: #57606a; }}
</style>
</head>
<body>
<h1>{title}</h1>
{notes}
<table><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table>
<ul>{warnings}</ul>
<h2>Hit rate over time</h2>
{_hit_rate_chart(report["timeline"])}
<h2>Restore time (median per day)</h2>
{_restore_chart(report["timeline"])}
</body>
</html>
"""
