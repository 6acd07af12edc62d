"""The simulation's result as text: the window, one table row per strategy, the cold-run sparklines,
the projected CI time and one line of advice."""

from __future__ import annotations

from typing import Any

from ci_gocache.simulation.runs import EVENT_KINDS


SPARKS = "▁▂▃▄▅▆▇█"
ASCII_SPARKS = " .:-=+*#"
EVENT_LABELS = {
    "source_only_push": ("source-only push", "source-only pushes"),
    "dependency_bump": ("dependency bump", "dependency bumps"),
    "new_dependency": ("new dependency", "new dependencies"),
    "go_version_change": ("Go version change", "Go version changes"),
    "pull_request": ("pull request run", "pull request runs"),
}


def sparkline(shares: list[float], top: float = 1.0, unicode: bool = True) -> str:
    """One mark per share, scaled so that `top` gets the tallest mark."""
    marks = SPARKS if unicode else ASCII_SPARKS
    top = top or 1.0
    return "".join(marks[min(len(marks) - 1, int(share / top * (len(marks) - 1) + 0.5))] for share in shares)


def percent(part: int, whole: int) -> str:
    if not whole:
        return "-"
    share = 100 * part / whole
    if 0 < share < 0.1:
        return "<0.1%"
    return f"{share:.1f}%" if 0 < share < 10 else f"{share:.0f}%"


def advice(result: dict[str, Any]) -> str:
    """One line a person can act on, from the numbers."""
    by_name = {strategy["name"]: strategy for strategy in result["strategies"]}
    ours, theirs = by_name.get("ci-gocache"), by_name.get("setup-go")
    if not ours or not theirs or not ours["runs"]:
        return "Advice: too few runs in the window to compare; widen it with --last or --since."
    changes = result["go_file_changes"]
    ours_cold, theirs_cold = ours["cold_share"] or 0.0, theirs["cold_share"] or 0.0
    ours_stale = ours["build"]["staleness"]["median"]
    theirs_stale = theirs["build"]["staleness"]["median"]
    saved = theirs["module_downloads"] - ours["module_downloads"]
    if theirs["mod"]["uncached"] == theirs["runs"]:
        return ("Advice: setup-go caches nothing here (no go.mod at the repository root); ci-gocache finds the "
                "modules itself, so `ci-gocache patch` turns every run from cold to cached.")
    if ours_cold + 0.005 < theirs_cold:
        return (f"Advice: ci-gocache would start cold on {percent(ours['cold_runs'], ours['runs'])} of runs instead of "
                f"{percent(theirs['cold_runs'], theirs['runs'])} "
                f"(the go files changed {changes:,} times in {result['commits']:,} commits) and download {saved:,} fewer "
                "go.sum lines; run `ci-gocache patch` on your workflows.")
    if theirs_stale is not None and ours_stale is not None and ours_stale + 1 < theirs_stale:
        return (f"Advice: cold runs are as rare with setup-go as with ci-gocache, but setup-go's build cache is "
                f"{_number(theirs_stale)} commits old at the median against {_number(ours_stale)}: ci-gocache's gain "
                "here is faster incremental builds, not fewer downloads.")
    return ("Advice: setup-go already does as well as ci-gocache on this history; keep it unless your builds are "
            "slow on source-only pushes.")


TABLE_HEADER = ["strategy", "runs", "cold", "modules exact/partial/cold", "build exact/partial/cold",
                "build age median/p90", "saves", "go.sum lines fetched", "avoided"]


def strategy_rows(result: dict[str, Any]) -> list[list[str]]:
    """One row of TABLE_HEADER cells per strategy: the text table and the HTML page show the same."""
    rows = []
    for strategy in result["strategies"]:
        mod, build, stale = strategy["mod"], strategy["build"], strategy["build"]["staleness"]
        runs = strategy["runs"]
        stale_text = "-" if stale["restores"] == 0 else f"{_number(stale['median'])}/{stale['p90']}"
        rows.append([
            strategy["name"],
            str(runs),
            percent(strategy["cold_runs"], runs),
            "/".join(percent(mod[kind], runs) for kind in ("exact", "partial"))
            + "/" + percent(mod["miss"] + mod["uncached"], runs),
            "/".join(percent(build[kind], runs) for kind in ("exact", "partial"))
            + "/" + percent(build["miss"] + build["uncached"], runs),
            stale_text,
            str(strategy["saves"]),
            f"{strategy['module_downloads']:,}",
            f"{strategy['module_downloads_avoided']:,}",
        ])
    return rows


def window_lines(result: dict[str, Any]) -> list[str]:
    """The window, the runs by kind, and the first-run rule: the lines above the table."""
    events = result["events"]
    event_text = ", ".join(f"{events[kind]:,} {EVENT_LABELS[kind][events[kind] != 1]}" for kind in EVENT_KINDS if events[kind])
    return [
        f"Window: {result['first_date']} to {result['last_date']}, {result['commits']:,} commits "
        f"({result['first'][:10]}..{result['last'][:10]})"
        + (f", {result['runs_skipped']} skipped by [skip ci]" if result["runs_skipped"] else "")
        + (", each also run as a pull request" if result["pull_requests"] else ""),
        f"Runs: {event_text or 'none'}; {result['go_file_changes']} commits changed go.sum/go.mod/go.work.",
        ("Caches start warm: the commit before the window ran first (--warm-start)." if result["warm_start"] else
         "Caches start empty, so the first run counts as cold; --warm-start replays the commit before the window first."),
    ]


def render_table(result: dict[str, Any], *, unicode: bool = True) -> str:
    header = TABLE_HEADER
    rows = [header, *strategy_rows(result)]
    widths = [max(len(row[column]) for row in rows) for column in range(len(header))]
    lines = [*window_lines(result), ""]
    for index, row in enumerate(rows):
        cells = [cell.ljust(widths[column]) if column == 0 else cell.rjust(widths[column]) for column, cell in enumerate(row)]
        lines.append("  ".join(cells).rstrip())
        if index == 0:
            lines.append("  ".join("-" * width for width in widths))
    lines.append("")
    dates = result.get("timeline_dates") or []
    if dates:
        top = max((share for strategy in result["strategies"] for share in strategy["cold_timeline"]), default=0.0)
        lines.append(f"Cold runs over the window, {dates[0]} to {result['last_date']} in {len(dates)} slices "
                     f"(the tallest mark is {top:.0%} of a slice's runs):")
        name_width = max(len(strategy["name"]) for strategy in result["strategies"])
        for strategy in result["strategies"]:
            lines.append(f"  {strategy['name'].ljust(name_width)}  {sparkline(strategy['cold_timeline'], top, unicode)}")
        lines.append("")
    if "costs" in result:
        projection = result["costs"]
        lines.append(f"Projected CI time from per-event costs ({projection['source'] or 'costs file'}):")
        for name, minutes in projection["minutes"].items():
            ratio = projection["ratio_to_baseline"].get(name)
            lines.append(f"  {name}: {minutes:,.1f} min"
                         + (f" ({ratio:.2f}x {projection['baseline']})" if ratio is not None else ""))
        lines.append("")
    lines.append("cold: the module cache restored nothing (a miss, or no cache at all). build age: commits between the run "
                 "and the run that saved the build cache it restored. go.sum lines fetched: module zips and go.mod files "
                 "the restored cache lacked.")
    lines.append(advice(result))
    return "\n".join(lines)


def _number(value: float | int | None) -> str:
    if value is None:
        return "-"
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"
