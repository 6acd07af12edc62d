"""What CI services wrap around log lines, as patterns: terminal colours, GitHub and GitLab timestamps.
Standard library only. Every pattern is bounded, so cleaning a line costs time linear in its length."""

from __future__ import annotations

import re

# SGR colours and erase-line codes (GitLab traces, coloured tools), and OSC sequences.
ANSI = re.compile(r"\x1b\[[0-9;?]{0,32}[A-Za-z]|\x1b\][^\x07\x1b]{0,2048}(?:\x07|\x1b\\)")
# GitHub Actions prefixes every log line with an RFC 3339 time with 7 fractional digits.
GITHUB_TIMESTAMP = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?Z ")
# GitLab's timestamped job logs: an RFC 3339 time, then the stream (O or E) with a line counter, "+" on continuations.
GITLAB_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?Z \d{2}[OE]\+? ?")


def strip_ansi(line: str) -> str:
    return ANSI.sub("", line) if "\x1b" in line else line
