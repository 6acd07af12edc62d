"""Name the root cause of Go dependency and cache failures in a CI or `docker build` log.

One table of rules, each recognising one fact in one cleaned log line, with a cause and a fix.
Lines are cleaned first: GitHub and GitLab timestamps, `##[error]`-style annotations, GitLab's
section markers and `\\r` redraws, ANSI colours and BuildKit's `#12 3.456` prefixes are removed,
so one pattern serves every CI. Continuation lines of a proxy's "server response:" belong to the
error above them and are not matched on their own (proxy.golang.org quotes git's errors there).

Details (host, module, version) come from the matched line itself, never from another line.
The first rule that matches a line wins, so specific rules come before general ones. A finding
may make another one redundant (a checksum mismatch explains its "SECURITY ERROR" banner):
`supersedes` drops those. A finding that an earlier one explains (a refused save after a failed
restore) names it in `caused_by`, and the root cause is the earliest unexplained finding of the
lowest rank.

The log is read as a stream, one line at a time, and each line is matched on its first
MAX_MATCH characters only. Every rule names literal `needles`, one of which must occur in the
(lower-cased) line before its expression runs, and no expression repeats an unbounded pattern
inside another, so the time per line is bounded and the whole run is linear in the log size.

The package: rules.py (the rule table), findings.py (cleaning a line, and what a rule makes of
it), reading.py (the log as a stream); the text output is here.
"""

from __future__ import annotations

from typing import Any

from ci_gocache.diagnosis.findings import MAX_MATCH, MAX_RAW, MAX_REPEATS, Finding, clean_line, private_pattern
from ci_gocache.diagnosis.reading import Diagnosis, diagnose, diagnose_stream
from ci_gocache.diagnosis.rules import RULES, RULES_BY_ID, Rule

__all__ = [
    "MAX_MATCH", "MAX_RAW", "MAX_REPEATS", "RULES", "RULES_BY_ID", "Diagnosis", "Finding", "Rule", "clean_line",
    "diagnose", "diagnose_stream", "private_pattern", "render_text",
]


def render_text(result: dict[str, Any], source: str) -> str:
    if not result["findings"]:
        return f"{source}: no known Go dependency or cache failure found."
    blocks: list[str] = []
    root = result["root_cause"]
    for finding in result["findings"]:
        marker = " (root cause)" if root and finding["line"] == root["line"] and finding["rule"] == root["rule"] else ""
        if finding["caused_by"]:
            marker = f" (follows line {finding['caused_by']})"
        repeats = ""
        if finding["repeated_at"]:
            shown = ", ".join(map(str, finding["repeated_at"][:10]))
            more = finding["repeats"] - min(10, len(finding["repeated_at"]))
            repeats = f" (again at lines {shown}{f' and {more} more' if more > 0 else ''})"
        blocks.append(
            f"{source}:{finding['line']}: {finding['severity']} [{finding['category']}/{finding['rule']}]{marker}{repeats}\n"
            f"  > {finding['text'].strip()}\n"
            f"  cause: {finding['cause']}\n"
            f"  fix:   {finding['fix']}"
        )
    count = len(result["findings"])
    summary = f"{count} finding{'s' if count != 1 else ''}"
    if root:
        summary += f"; root cause at line {root['line']}: {root['rule']}"
    return "\n\n".join(blocks) + "\n\n" + summary
