"""Mutation fuzzing of `ci-gocache patch` over the golden fixtures (tests/fixtures/*/*/repo/).

A mutant is a fixture repository with one CI file changed by a few byte or line mutations. For
every mutant, `check_mutant` asserts what issue 12 asks: no traceback, an exit code in {0, 1, 2},
nothing written to a file reported as an error, idempotence (a second run changes nothing), an
output that parses (the second run reads every patched file back without error), and no original
word lost beyond what the unmutated fixture's own patch replaces.

Used by tests/test_fuzz_mutations.py (a bounded run) and bench/fuzz_campaign.py (long campaigns).
"""

from __future__ import annotations

import contextlib
import difflib
import json
import os
import random
import shutil
import signal
import tempfile
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from click.testing import CliRunner

from ci_gocache.cli import cli
from support.golden import FIXTURES, all_cases, case_config

INTERESTING_BYTES = [
    b"\x00", b"\t", b"\r", b"\n", b":", b"-", b"&", b"*", b"!", b"#", b"'", b'"', b"{", b"[", b"]",
    b"\\", b" ", b"|", b">", b"%", b"@", b"\xff", b"\xc3", b"\x1b", b"\x7f", b"$", b"`", b"=",
]
HOSTILE_LINES = [
    b"x: &a [1, 2]", b"<<: *a", b"true: 1", b"? complex", b"- *a", b"!!binary x", b"RUN # comment",
    b" \\", b"...", b"---", b"on:", b"steps: []", b"run: go test ./...", b"  - run: go build ./...",
    b"script: [go test ./...]", b"FROM golang:1.22 AS build", b"RUN go mod download", b"\t", b"\r",
    b"env: {GOFLAGS: -mod=mod}", b"'quoted key': v", b"%YAML 1.1", b"key: >-", b"  folded",
]


@dataclass(frozen=True)
class Subject:
    area: str
    case: str
    relative: str  # the CI file mutated, relative to the case's repo/

    @property
    def repo(self) -> Path:
        return FIXTURES / self.area / self.case / "repo"

    @property
    def args(self) -> tuple[str, ...]:
        return tuple(case_config(self.area, self.case).get("args", []))


def _ci_files(repo: Path) -> list[str]:
    from ci_gocache.targets import target_claiming

    found = []
    for path in sorted(repo.rglob("*")):
        relative = path.relative_to(repo).as_posix()
        if path.is_file() and not path.is_symlink() and target_claiming(relative) is not None:
            found.append(relative)
    return found


@lru_cache(maxsize=None)
def subjects() -> tuple[Subject, ...]:
    return tuple(
        Subject(area, case, relative) for area, case in all_cases() for relative in _ci_files(FIXTURES / area / case / "repo")
    )


def mutate(content: bytes, rng: random.Random, count: int) -> bytes:
    for _ in range(count):
        lines = content.split(b"\n")
        kind = rng.randrange(9)
        position = rng.randrange(len(content) + 1)
        line_index = rng.randrange(len(lines))
        if kind == 0 and content:
            content = content[:position] + rng.choice(INTERESTING_BYTES) + content[position + 1 :]
        elif kind == 1:
            content = content[:position] + rng.choice(INTERESTING_BYTES) + content[position:]
        elif kind == 2 and content:
            content = content[:position] + content[position + 1 :]
        elif kind == 3 and len(lines) > 1:
            del lines[line_index]
            content = b"\n".join(lines)
        elif kind == 4:
            lines.insert(line_index, lines[line_index])
            content = b"\n".join(lines)
        elif kind == 5 and line_index + 1 < len(lines):
            lines[line_index], lines[line_index + 1] = lines[line_index + 1], lines[line_index]
            content = b"\n".join(lines)
        elif kind == 6:
            lines[line_index] = b"  " + lines[line_index]
            content = b"\n".join(lines)
        elif kind == 7:
            lines[line_index] = lines[line_index][2:] if lines[line_index].startswith(b"  ") else lines[line_index]
            content = b"\n".join(lines)
        else:
            indent = lines[line_index][: len(lines[line_index]) - len(lines[line_index].lstrip(b" "))]
            lines.insert(line_index, indent + rng.choice(HOSTILE_LINES))
            content = b"\n".join(lines)
    return content


def files_of(root: Path) -> dict[str, bytes]:
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and not path.is_symlink()
    }


@contextlib.contextmanager
def _inside(directory: Path):
    previous = os.getcwd()
    handler = signal.getsignal(signal.SIGTERM)  # `patch` installs its own; give the test runner its own back
    os.chdir(directory)
    try:
        yield
    finally:
        os.chdir(previous)
        signal.signal(signal.SIGTERM, handler)


def run_patch(repo: Path, args: tuple[str, ...]) -> tuple[int, dict, str]:
    """`ci-gocache patch --format json` in this process (the real command, without the start-up cost)."""
    with _inside(repo):
        result = CliRunner().invoke(cli, ["patch", "--format", "json", *args], catch_exceptions=True)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        import traceback

        raise AssertionError(
            "traceback:\n" + "".join(traceback.format_exception(result.exception)) + result.stderr
        )
    report = json.loads(result.stdout) if result.stdout.strip().startswith("{") else {"files": []}
    return result.exit_code, report, result.stderr


def _words(content: bytes) -> Counter[bytes]:
    return Counter(content.split())


def _removed_lines(before: bytes, after: bytes) -> list[bytes]:
    remaining = Counter(after.splitlines())
    removed = []
    for line in before.splitlines():
        if remaining[line]:
            remaining[line] -= 1
        else:
            removed.append(line)
    return removed


def _first_word(line: bytes) -> bytes:
    words = line.replace(b"- ", b"  ", 1).split()
    return words[0] if words else b""


@lru_cache(maxsize=None)
def replaced(subject: Subject) -> tuple[frozenset[bytes], frozenset[bytes]]:
    """Words the unmutated fixture's own patch removes from the file, and the first words (keys) of
    the lines it rewrites (a setup-go `cache: true`, a replaced cache step): losing those, or any
    value on such a line, is the patch doing its job, not losing data."""
    with tempfile.TemporaryDirectory() as scratch:
        repo = Path(scratch) / "repo"
        shutil.copytree(subject.repo, repo, symlinks=True)
        before = (repo / subject.relative).read_bytes()
        run_patch(repo, subject.args)
        after = (repo / subject.relative).read_bytes()
    words = frozenset((_words(before) - _words(after)).keys())
    keys = frozenset(_first_word(line) for line in _removed_lines(before, after)) - {b""}
    return words, keys


# Rewritten by design whatever they held: setup-go's `cache:` (set to false), and hand-written Go
# caches (an actions/cache step, a GitLab `cache:` entry), replaced whole by the patch's own.
ALWAYS_REWRITTEN_KEYS = frozenset({b"cache:", b"key:"})
HAND_WRITTEN_CACHE = b"actions/cache@"


def _removed_blocks(before: bytes, after: bytes) -> list[list[bytes]]:
    """Runs of consecutive lines of `before` that are not in `after`."""
    old, new = before.splitlines(), after.splitlines()
    blocks = []
    for tag, i1, i2, _, _ in difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
        if tag in ("replace", "delete"):
            blocks.append(old[i1:i2])
    return blocks


def unexpected_losses(subject: Subject, before: bytes, after: bytes) -> set[bytes]:
    """Words lost that the patch does not replace by design. A run of removed lines holding a key
    the fixture's own patch rewrites (a hand-written cache step or cache: block, replaced whole) may
    lose everything in it."""
    words, keys = replaced(subject)
    lost = set((_words(before) - _words(after)).keys()) - words
    replaced_blocks: set[bytes] = set()
    for block in _removed_blocks(before, after):
        if any(_first_word(line) in keys | ALWAYS_REWRITTEN_KEYS or HAND_WRITTEN_CACHE in line for line in block):
            for line in block:
                replaced_blocks.update(line.split())
    return lost - replaced_blocks


def check_mutant(subject: Subject, mutant: bytes, scratch: Path) -> str:
    """Run `patch` twice on the fixture with `mutant` in place of its file; assert the properties.
    Returns the first run's outcome for the file (changed, unchanged, skipped or error)."""
    repo = scratch / "repo"
    if repo.exists():
        shutil.rmtree(repo)
    shutil.copytree(subject.repo, repo, symlinks=True)
    (repo / subject.relative).write_bytes(mutant)
    before = files_of(repo)

    exit_code, report, stderr = run_patch(repo, subject.args)
    assert exit_code in (0, 1, 2), (exit_code, stderr)
    after = files_of(repo)
    assert after.keys() == before.keys(), f"files appeared or vanished: {sorted(after.keys() ^ before.keys())}"
    statuses = {Path(entry["path"]).as_posix().removeprefix("./"): entry["status"] for entry in report["files"]}
    for relative in before:
        status = statuses.get(relative)
        if status != "changed":
            assert after[relative] == before[relative], f"{relative} ({status}) was written: {stderr}"
    if exit_code == 2:
        assert any(status == "error" for status in statuses.values()), stderr

    second_code, second_report, second_stderr = run_patch(repo, subject.args)
    assert files_of(repo) == after, "a second run changed files again"
    for entry in second_report["files"]:
        relative = Path(entry["path"]).as_posix().removeprefix("./")
        if statuses.get(relative) == "changed":
            assert entry["status"] == "unchanged", (relative, entry, second_stderr)

    unexpected = unexpected_losses(subject, before[subject.relative], after[subject.relative])
    assert not unexpected, f"{subject.relative}: words lost by the patch: {sorted(unexpected)[:10]}"
    return statuses.get(subject.relative, "absent")
