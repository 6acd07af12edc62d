"""A log read as a stream of bytes: only the lines that hold a rule's needle are cleaned and matched,
with the lines around them at hand; the findings are deduplicated, linked to their causes, and the
root cause picked."""

from __future__ import annotations

import bisect
import io
import operator
from itertools import accumulate
from typing import IO, Any

from ci_gocache.diagnosis.findings import (
    DOCKER_MARKERS,
    MAX_MATCH,
    MAX_RAW,
    MAX_REPEATS,
    MESSAGE_HEAD,
    SERVER_DB_LINE,
    Finding,
    clean_line,
    explained_cause,
    fill_template,
    line_details,
)
from ci_gocache.diagnosis.rules import FIX_PRIVATE_DOCKER, RULES, RULES_BY_ID, Rule


CHUNK_BYTES = 1 << 20  # read at a time
CONTEXT_LINES = 64  # lines looked back at, for the message an indented line continues
LOOKAHEAD_LINES = 4  # lines looked ahead at, for the database line under a checksum mismatch
DOCKER_NEEDLES = (b"failed to solve", b"docker build", b"] run ", b"] from ", b"] copy ", b"#1 done", b"step 1/")


def _shortest_needles(needles: set[bytes]) -> tuple[bytes, ...]:
    """The needles to search for: one that contains another is found through the other."""
    return tuple(sorted(n for n in needles if not any(other != n and other in n for other in needles)))


_NEEDLES = _shortest_needles({needle.encode() for rule in RULES for needle in rule.needles} | set(DOCKER_NEEDLES))


def _is_indented(line: str) -> bool:
    return line[:1] in ("\t", " ")


class Diagnosis:
    """Findings for one log, read as a stream of bytes.

    Most lines of a CI log hold none of the rules' needles. Each chunk is searched for the needles
    with bytes.find (lower-cased, as the rules match), and only the lines that hold one are cleaned
    and matched, with up to CONTEXT_LINES lines before them and LOOKAHEAD_LINES after them at hand.
    """

    def __init__(self) -> None:
        self.findings: dict[tuple[str, str], Finding] = {}
        self.docker = False
        self.lines = 0

    # ---- reading

    def read(self, handle: IO[bytes]) -> None:
        history: list[bytes] = []  # the last CONTEXT_LINES lines already scanned
        pending: list[bytes] = []  # lines read, not yet scanned (the tail waits for its lookahead)
        base = 0  # 0-based number of pending[0]
        leftover = b""
        while True:
            chunk = handle.read(CHUNK_BYTES)
            if chunk:
                parts = (leftover + chunk).split(b"\n")
                # An over-long line keeps its first MAX_RAW bytes; the rest is dropped as it arrives.
                leftover = parts.pop()[:MAX_RAW]
                if parts and max(map(len, parts)) > MAX_RAW:
                    parts = [part[:MAX_RAW] for part in parts]
                pending.extend(parts)
            elif leftover:
                pending.append(leftover)
                leftover = b""
            upto = len(pending) if not chunk else max(0, len(pending) - LOOKAHEAD_LINES)
            self._scan(history, pending, upto, base)
            history = (history + pending[:upto])[-CONTEXT_LINES:]
            base += upto
            del pending[:upto]
            if not chunk:
                break
        self.lines = base

    def _scan(self, history: list[bytes], lines: list[bytes], upto: int, base: int) -> None:
        if upto == 0:
            return
        block = b"\n".join(lines[:upto]).lower()
        # Where each line starts in the block: the lengths before it, plus one newline per line.
        starts = [0, *map(operator.add, accumulate(map(len, lines[:upto])), range(1, upto + 1))]
        hits: set[int] = set()
        for needle in _NEEDLES:
            position = block.find(needle)
            while position >= 0:
                index = bisect.bisect_right(starts, position) - 1
                hits.add(index)
                position = block.find(needle, starts[index + 1]) if index + 1 < len(starts) else -1
        for index in sorted(hits):
            self._feed(history, lines, index, base + index + 1)

    @staticmethod
    def _text(raw: bytes) -> str:
        return raw.decode("utf-8", errors="replace")

    def _around(self, history: list[bytes], lines: list[bytes], index: int, offset: int) -> str | None:
        at = index + offset
        if at >= 0:
            return self._text(lines[at]) if at < len(lines) else None
        return self._text(history[at]) if -at <= len(history) else None

    # ---- one line

    def _feed(self, history: list[bytes], lines: list[bytes], index: int, number: int) -> None:
        raw = self._text(lines[index])
        line = clean_line(raw)
        if not self.docker and DOCKER_MARKERS.search(line):
            self.docker = True
        inherited: dict[str, str] = {}
        if _is_indented(line) or not line.strip():
            # go indents what follows "server response:" (the proxy quoting git) and git's own output under
            # the error line: skip the former; the latter continues a message that names the module.
            for back in range(1, CONTEXT_LINES + 1):
                previous_raw = self._around(history, lines, index, -back)
                if previous_raw is None:
                    break
                previous = clean_line(previous_raw)
                if "server response:" in previous:
                    return
                if previous.strip() and not _is_indented(previous):
                    head = MESSAGE_HEAD.match(previous) if previous.rstrip().endswith(":") else None
                    if head:
                        inherited = {"module": head.group("module"), "version": head.group("version")}
                    break
        lowered = line.lower()
        for rule in RULES:
            if not any(needle in lowered for needle in rule.needles):
                continue
            if rule.also and not any(needle in lowered for needle in rule.also):
                continue
            match = rule.pattern.search(line)
            if match is None:
                continue
            values = line_details(match, line)
            if rule.accept is not None and not rule.accept(values):
                continue
            if "module" not in values and inherited:
                values.update(inherited)
            finding = self._record(rule, values, number, raw)
            if finding is not None and rule.id == "checksum-mismatch":
                following = [self._around(history, lines, index, ahead) for ahead in range(1, LOOKAHEAD_LINES + 1)]
                self._check_database_lines(finding, [clean_line(text) for text in following if text is not None])
            return

    def _record(self, rule: Rule, values: dict[str, str], number: int, raw: str) -> Finding | None:
        subject = next((values[name] for name in rule.distinct_by if values.get(name)), "")
        identity = (rule.id, subject)
        existing = self.findings.get(identity)
        if existing is not None:
            existing.repeats += 1
            if len(existing.repeated_at) < MAX_REPEATS:
                existing.repeated_at.append(number)
            return None
        finding = Finding(
            rule.id, rule.category, rule.severity, number, raw[:MAX_MATCH].rstrip("\r\n"),
            fill_template(rule.cause, values), fill_template(rule.fix, values), rule.rank, values,
        )
        cause = next((f for f in self.findings.values() if f.rule in rule.follows and f.caused_by is None), None)
        if cause is not None:
            finding.caused_by = cause.line
            finding.cause = explained_cause(rule, finding)
        self.findings[identity] = finding
        return finding

    def _check_database_lines(self, finding: Finding, following: list[str]) -> None:
        """go.sum's mismatch names go.sum under it; the checksum database's names the database."""
        for line in following:
            database = SERVER_DB_LINE.match(line)
            if database is None or database.group("db") == "downloaded":
                continue
            if database.group("db") == "go.sum":
                return
            rule = RULES_BY_ID["sumdb-mismatch"]
            values = {**finding.details, "db": database.group("db")}
            finding.rule, finding.rank = rule.id, rule.rank
            finding.cause = fill_template(rule.cause, values)
            finding.fix = fill_template(rule.fix, values)
            finding.details = values
            return

    def result(self) -> dict[str, Any]:
        findings = list(self.findings.values())
        present = {finding.rule for finding in findings}
        superseded = {dropped for rule_id in present for dropped in RULES_BY_ID[rule_id].supersedes}
        kept = sorted((f for f in findings if f.rule not in superseded), key=lambda f: f.line)
        if self.docker:
            for finding in kept:
                if finding.category == "private-module":
                    finding.fix += fill_template(FIX_PRIVATE_DOCKER, finding.details)
        roots = [f for f in kept if f.caused_by is None]
        problems = [f for f in roots if f.severity != "info"] or roots
        root = min(problems, key=lambda f: (f.rank, f.line)) if problems else None
        return {
            "docker": self.docker,
            "lines": self.lines,
            "findings": [finding.to_json() for finding in kept],
            "root_cause": root.to_json() if root else None,
        }


def diagnose_stream(handle: IO[bytes]) -> dict[str, Any]:
    """Findings for a log read from a binary stream: {"findings", "root_cause", "docker", "lines"}."""
    diagnosis = Diagnosis()
    diagnosis.read(handle)
    return diagnosis.result()


def diagnose(log_text: str) -> dict[str, Any]:
    """Findings for a log held in memory."""
    return diagnose_stream(io.BytesIO(log_text.encode("utf-8", errors="surrogateescape")))
