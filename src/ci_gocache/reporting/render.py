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
        noun = "job log" if report["source"]["kind"] == "gitlab" else "run log"
        notes.append(f"{missing} {noun}{'' if missing == 1 else 's'} {'was' if missing == 1 else 'were'} missing "
                     "(expired or erased).")
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

CHART_WIDTH, CHART_HEIGHT = 720, 260
PLOT_LEFT, PLOT_RIGHT, PLOT_TOP, PLOT_BOTTOM = 56, 16, 16, 56  # margins around the plot area
LEGEND_ROW = 18
LINE_COLOURS = ["#0969da", "#8250df", "#bf3989", "#1a7f37", "#9a6700", "#cf222e"]
PAGE_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #1f2328; max-width: 60rem; }
.scroll { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; margin: 1rem 0; }
th, td { border: 1px solid #d0d7de; padding: 4px 8px; }
td.number { text-align: right; white-space: nowrap; }
.warning { color: #9a6700; }
.note { color: #57606a; }
.advice { font-weight: 600; }
svg { max-width: 100%; height: auto; display: block; }
svg text { font-size: 11px; fill: #1f2328; }
"""


def _plot_box(legend_rows: int) -> tuple[float, float, float, float, int]:
    """(left, top, width, height, total chart height): the legend gets its own rows under the x axis."""
    height = CHART_HEIGHT + legend_rows * LEGEND_ROW
    return (PLOT_LEFT, PLOT_TOP, CHART_WIDTH - PLOT_LEFT - PLOT_RIGHT, CHART_HEIGHT - PLOT_TOP - PLOT_BOTTOM, height)


def _svg_open(label: str, height: int) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{html.escape(label)}" '
            f'width="{CHART_WIDTH}" height="{height}" viewBox="0 0 {CHART_WIDTH} {height}">')


def _axes(left: float, top: float, width: float, height: float, top_label: str, bottom_label: str) -> str:
    bottom = top + height
    return (f'<rect class="plot-area" x="{left}" y="{top}" width="{width}" height="{height}" fill="none"/>'
            f'<line x1="{left}" y1="{top}" x2="{left}" y2="{bottom}" stroke="#8c959f"/>'
            f'<line x1="{left}" y1="{bottom}" x2="{left + width}" y2="{bottom}" stroke="#8c959f"/>'
            f'<text class="y-tick" x="{left - 6}" y="{top + 4}" text-anchor="end">{html.escape(top_label)}</text>'
            f'<text class="y-tick" x="{left - 6}" y="{bottom}" text-anchor="end">{html.escape(bottom_label)}</text>')


def _x_labels(labels: list[str], positions: list[float], top: float, height: float) -> str:
    """Date labels under the x axis, thinned so that they never touch (about 70 px each)."""
    if not labels:
        return ""
    room = max(1, int(CHART_WIDTH // 90))
    stride = max(1, -(-len(labels) // room))
    parts = []
    for index in range(0, len(labels), stride):
        parts.append(f'<text class="x-tick" x="{positions[index]:.1f}" y="{top + height + 16}" text-anchor="middle">'
                     f'{html.escape(labels[index])}</text>')
    return "".join(parts)


def _legend(items: list[tuple[str, str]], top: float) -> str:
    """Legend rows under the plot: never on top of the data."""
    parts = ['<g class="legend">']
    x, y = PLOT_LEFT, top
    for name, colour in items:
        width = 22 + 7 * len(name)
        if x + width > CHART_WIDTH - PLOT_RIGHT:
            x, y = PLOT_LEFT, y + LEGEND_ROW
        parts.append(f'<rect x="{x}" y="{y - 9}" width="10" height="10" fill="{colour}"/>'
                     f'<text x="{x + 14}" y="{y}">{html.escape(name)}</text>')
        x += width + 16
    parts.append("</g>")
    return "".join(parts)


def _legend_rows(names: list[str]) -> int:
    rows, x = 1, PLOT_LEFT
    for name in names:
        width = 22 + 7 * len(name)
        if x + width > CHART_WIDTH - PLOT_RIGHT:
            rows, x = rows + 1, PLOT_LEFT
        x += width + 16
    return rows


def stacked_bar_chart(label: str, columns: list[tuple[str, dict[str, int]]], kinds: dict[str, str]) -> str:
    """One bar per column: the share of each kind, bottom up, with the column's label under it."""
    if not columns:
        return "<p>No data.</p>"
    left, top, width, height, total_height = _plot_box(_legend_rows(list(kinds)))
    slot = width / len(columns)
    parts = [_svg_open(label, total_height), _axes(left, top, width, height, "100%", "0%")]
    positions = []
    for index, (name, counts) in enumerate(columns):
        total = sum(counts.get(kind, 0) for kind in kinds)
        x = left + index * slot + slot * 0.15
        positions.append(x + slot * 0.35)
        bottom = top + height
        for kind, colour in kinds.items():
            share = counts.get(kind, 0) / total if total else 0.0
            bar = height * share
            if bar <= 0:
                continue
            bottom -= bar
            parts.append(f'<rect class="{kind}" x="{x:.1f}" y="{bottom:.1f}" width="{slot * 0.7:.1f}" height="{bar:.1f}" '
                         f'fill="{colour}"><title>{html.escape(name)}: {counts.get(kind, 0)} {kind} of {total}</title></rect>')
    parts.append(_x_labels([name for name, _ in columns], positions, top, height))
    parts.append(_legend(list(kinds.items()), top + height + 40))
    parts.append("</svg>")
    return "".join(parts)


def line_chart(label: str, x_labels: list[str], series: dict[str, list[float | None]], top_value: float,
               unit: str) -> str:
    """One line per series over shared x positions; dates under the axis, the legend under the chart."""
    names = sorted(series)
    if not names or not x_labels:
        return "<p>No data.</p>"
    left, top, width, height, total_height = _plot_box(_legend_rows(names))
    step = width / max(1, len(x_labels) - 1)
    positions = [left + (index * step if len(x_labels) > 1 else width / 2) for index in range(len(x_labels))]
    top_value = top_value or 1.0
    parts = [_svg_open(label, total_height), _axes(left, top, width, height, _format(top_value, unit), _format(0, unit))]
    legend = []
    for number, name in enumerate(names):
        colour = LINE_COLOURS[number % len(LINE_COLOURS)]
        legend.append((name, colour))
        points = [(positions[index], top + height - height * value / top_value, x_labels[index], value)
                  for index, value in enumerate(series[name]) if value is not None]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _, _ in points)
        parts.append(f'<polyline class="series" fill="none" stroke="{colour}" stroke-width="2" points="{path}"/>')
        for x, y, when, value in points:
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"><title>{html.escape(name)} '
                         f'{html.escape(when)}: {_format(value, unit)}</title></circle>')
    parts.append(_x_labels(x_labels, positions, top, height))
    parts.append(_legend(legend, top + height + 40))
    parts.append("</svg>")
    return "".join(parts)


def _format(value: float, unit: str) -> str:
    if unit == "%":
        return f"{value * 100:.0f}%"
    return f"{value:.1f}{unit}"


def _hit_rate_chart(timeline: list[dict[str, Any]]) -> str:
    """Stacked bars per day: the share of exact, partial and miss restores."""
    return stacked_bar_chart("Hit rate over time", [(day["date"][5:], day) for day in timeline], HIT_COLOURS)


def _restore_chart(timeline: list[dict[str, Any]]) -> str:
    """One line per cache: the median restore seconds of each day."""
    caches = sorted({cache for day in timeline for cache in day["restore_seconds_median"]})
    values = [seconds for day in timeline for seconds in day["restore_seconds_median"].values()]
    if not values:
        return "<p>No restore times in the logs read.</p>"
    series = {cache: [day["restore_seconds_median"].get(cache) for day in timeline] for cache in caches}
    return line_chart("Restore time", [day["date"][5:] for day in timeline], series, max(values), "s")


def _page(title: str, body: str) -> str:
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<style>{PAGE_STYLE}</style>
</head>
<body>
<h1>{html.escape(title)}</h1>
{body}
</body>
</html>
"""


def _html_table(header: list[str], rows: list[list[str]], numeric_from: int) -> str:
    head = "".join(f"<th>{html.escape(column)}</th>" for column in header)
    body = "".join(
        "<tr>" + "".join(f'<td class="number">{html.escape(cell)}</td>' if index >= numeric_from else
                         f"<td>{html.escape(cell)}</td>" for index, cell in enumerate(row)) + "</tr>"
        for row in rows)
    # A narrow window scrolls the table, not the page.
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def render_html(report: dict[str, Any]) -> str:
    """One file, no external resources: inline CSS and SVG, no scripts."""
    warnings = "".join(f'<li class="warning">{html.escape(warning["message"])}</li>' for warning in report["warnings"])
    notes = "".join(f"<p class=\"note\">{html.escape(note)}</p>" for note in _notes(report))
    body = (f"{notes}\n{_html_table(COLUMNS, _rows(report), 3)}\n<ul>{warnings}</ul>\n"
            f"<h2>Hit rate over time</h2>\n{_hit_rate_chart(report['timeline'])}\n"
            f"<h2>Restore time (median per day)</h2>\n{_restore_chart(report['timeline'])}")
    return _page(_title(report), body)


# ---------------------------------------------------------------- `simulate --html`

SIMULATION_KINDS = {"exact": HIT_COLOURS["exact"], "partial": HIT_COLOURS["partial"], "cold": HIT_COLOURS["miss"]}


def render_simulation_html(result: dict[str, Any], header: list[str], rows: list[list[str]], notes: list[str],
                           advice: str) -> str:
    """The `simulate` result as a page like `report`'s: the notes and advice, the table, and two charts.
    The rows and notes are the text output's (simulation.strategy_rows and window_lines)."""
    notes_html = "".join(f'<p class="note">{html.escape(line)}</p>' for line in notes)
    columns = [(strategy["name"], {"exact": strategy["mod"]["exact"], "partial": strategy["mod"]["partial"],
                                   "cold": strategy["cold_runs"]}) for strategy in result["strategies"]]
    series = {strategy["name"]: list(strategy["cold_timeline"]) for strategy in result["strategies"]}
    top = max((value for values in series.values() for value in values), default=0.0)
    costs = ""
    if "costs" in result:
        projection = result["costs"]
        cost_rows = [[name, f"{minutes:,.1f}", f"{projection['ratio_to_baseline'].get(name, 0):.2f}x"]
                     for name, minutes in projection["minutes"].items()]
        costs = (f"<h2>Projected CI time</h2><p class=\"note\">{html.escape(projection['source'])}</p>"
                 + _html_table(["strategy", "minutes", f"vs {projection['baseline']}"], cost_rows, 1))
    body = (f"{notes_html}\n<p class=\"advice\">{html.escape(advice)}</p>\n{_html_table(header, rows, 1)}\n{costs}\n"
            f"<h2>Module cache: exact, partial and cold runs</h2>\n"
            f"{stacked_bar_chart('Module cache hits per strategy', columns, SIMULATION_KINDS)}\n"
            f"<h2>Cold runs over the window</h2>\n"
            f"{line_chart('Cold runs over time', result.get('timeline_dates', []), series, top, '%')}")
    return _page(f"Cache strategies replayed on {result['commits']:,} commits", body)
