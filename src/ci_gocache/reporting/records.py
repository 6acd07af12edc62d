"""The action's run records found again in job logs (the format is ci_gocache.action.records)."""

from __future__ import annotations

import json
from typing import Any

from ci_gocache.action.records import RECORD_MARKER
from ci_gocache.logtext import strip_ansi


def parse_records(log_text: str) -> list[dict[str, Any]]:
    """Every record found in a log, in order. Lines that merely mention the marker are skipped."""
    return [record for _line_number, record in iter_records(log_text)]


def iter_records(log_text: str) -> list[tuple[int, dict[str, Any]]]:
    """(1-based line number, record) for every well-formed record line in a log."""
    found: list[tuple[int, dict[str, Any]]] = []
    # Split on newlines only: GitLab traces put `\r` inside a line to redraw it.
    for line_number, raw_line in enumerate(log_text.split("\n"), start=1):
        if RECORD_MARKER not in raw_line:
            continue
        # Job logs may colour or timestamp a line; GitLab traces carry ANSI codes.
        line = strip_ansi(raw_line)
        position = line.find(RECORD_MARKER)
        if position < 0:
            continue
        payload = line[position + len(RECORD_MARKER):].strip()
        # The shell echo of the command (`echo "ci-gocache-record: $json"`) is not JSON: skip it.
        try:
            record = json.loads(payload)
        except ValueError:
            continue
        if isinstance(record, dict):
            found.append((line_number, record))
    return found
