"""What CI services wrap around log lines, as patterns: terminal colours, GitHub timestamps. Standard library only."""

from __future__ import annotations

import re

# SGR colours and erase-line codes (GitLab traces, coloured tools), and OSC sequences.
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")
# GitHub Actions prefixes every log line with an RFC 3339 time with 7 fractional digits.
GITHUB_TIMESTAMP = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?Z ")


def strip_ansi(line: str) -> str:
    return ANSI.sub("", line)
