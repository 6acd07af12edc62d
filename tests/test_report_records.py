"""The run record the action writes and `ci-gocache report` reads back."""

from __future__ import annotations

import pytest

from ci_gocache.action.records import RECORD_MARKER, format_record
from ci_gocache.reporting.records import parse_records
from ci_gocache.reporting.records import iter_records


def test_format_record_is_one_marked_json_line_with_version() -> None:
    line = format_record({"cache": "mod", "hit": "exact", "key": "k-1"})
    assert line.startswith(RECORD_MARKER + " {")
    assert "\n" not in line
    assert parse_records(line) == [{"cache": "mod", "hit": "exact", "key": "k-1", "v": 1}]


def test_format_record_keeps_newlines_and_unicode_inside_one_line() -> None:
    line = format_record({"cache": "build", "hit": "miss", "job": "tést\nline"})
    assert "\n" not in line and line.isascii()
    assert parse_records(line)[0]["job"] == "tést\nline"


def test_format_record_rejects_values_json_cannot_hold() -> None:
    with pytest.raises(TypeError):
        format_record({"cache": "mod", "hit": "exact", "when": object()})


def test_parse_records_reads_github_timestamped_and_gitlab_coloured_lines() -> None:
    record = format_record({"cache": "mod", "hit": "partial", "matched_key": "a-b"})
    log = "\n".join([
        "2024-05-01T10:00:00.1234567Z ##[group]Run ci-gocache",
        "2024-05-01T10:00:00.1234567Z echo \"ci-gocache-record: $RECORD\"",
        f"2024-05-01T10:00:01.0000000Z {record}",
        f"\x1b[0Ksection_start:1714557600:step\r\x1b[0K\x1b[32;1m{record}\x1b[0;m",
        "ci-gocache-record: {not json",
    ])
    assert [number for number, _ in iter_records(log)] == [3, 4]
    assert all(found["matched_key"] == "a-b" for found in parse_records(log))


def test_parse_records_keeps_marker_text_inside_values() -> None:
    line = format_record({"cache": "mod", "hit": "miss", "key": "x ci-gocache-record: y"})
    assert parse_records("prefix " + line)[0]["key"] == "x ci-gocache-record: y"
