"""What the action shows people: sizes, short lists of files, and the job summary table."""

from __future__ import annotations

TYPE_CHECKING = False  # typing only for annotations: the key phase imports this module
if TYPE_CHECKING:
    from typing import Any

SUM_LIST_SHOWN = 5


def human_bytes(count: int | None) -> str:
    if count is None:
        return "?"
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{count} B"


def _secs(value: float | None) -> str:
    return "?" if value is None else f"{value:.1f} s"


def summarize_files(files: list[str], shown: int = SUM_LIST_SHOWN) -> str:
    """A count and the first few names, not hundreds of names on one line."""
    if not files:
        return "(none)"
    head = ", ".join(files[:shown])
    return head if len(files) <= shown else f"{head} and {len(files) - shown} more"


def _cell(text: str) -> str:
    """A value inside a Markdown table cell of the job summary: one line, no column breaks."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("`", "'").replace("\r", " ").replace("\n", " ")


def summary_markdown(state: dict[str, Any], records: list[dict[str, Any]]) -> str:
    lines = [
        "### Go caches (ci-gocache)",
        "",
        "| cache | hit | key | restored from | size | restore | trimmed | saved |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for record in records:
        label = "modules" if record["cache"] == "mod" else "build"
        trimmed = "—"
        if record.get("trim_skipped"):
            trimmed = record["trim_skipped"]
        elif record["cache"] == "build":
            trimmed = f"{record['trimmed_entries']} entries, {human_bytes(record['trimmed_bytes'])}"
        if record["saved"]:
            saved = f"yes, {human_bytes(record.get('saved_bytes'))} in {_secs(record.get('save_seconds'))}"
        else:
            saved = f"no: {_cell(record['save_reason'])}"
        matched = f"`{_cell(record['matched_key'])}`" if record["matched_key"] else "—"
        lines.append(
            f"| {label} | **{record['hit']}** | `{_cell(record['key'])}` | {matched} | "
            f"{human_bytes(record.get('restored_bytes'))} | {_secs(record.get('restore_seconds'))} | {trimmed} | {saved} |"
        )
    files = state.get("sum_files") or []
    shown = ", ".join(f"`{_cell(f)}`" for f in files[:SUM_LIST_SHOWN])
    more = f" and {len(files) - SUM_LIST_SHOWN} more" if len(files) > SUM_LIST_SHOWN else ""
    lines += ["", f"{_cell(state.get('go_version', ''))}; keyed on {len(files)} file(s): {shown}{more}", ""]
    return "\n".join(lines) + "\n"
