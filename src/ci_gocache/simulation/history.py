"""Which commits a simulation replays: the first-parent window (--last, --since, --until, --warm-start)
and the go-file changes between them, read from git with as few processes as possible."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Iterator


GO_FILE_NAMES = frozenset({"go.sum", "go.mod", "go.work", "go.work.sum"})
PATHSPECS = ["*go.sum", "*go.mod", "*go.work", "*go.work.sum"]
# GitHub starts no push or pull_request run for a head commit whose message holds one of these.
SKIP_MARKERS = ("[skip ci]", "[ci skip]", "[no ci]", "[skip actions]", "[actions skip]")


class HistoryError(Exception):
    """The directory or revision cannot be replayed (not a git repository, unknown revision)."""


# ---------------------------------------------------------------- git


def _git(root: Path, *args: str) -> bytes:
    completed = subprocess.run(["git", "-C", str(root), *args], capture_output=True, check=False)
    if completed.returncode != 0:
        message = completed.stderr.decode("utf-8", "replace").strip().splitlines()
        text = message[-1] if message else f"git {args[0]} failed"
        raise HistoryError(text.removeprefix("fatal: "))
    return completed.stdout


def _stream(root: Path, *args: str, separator: bytes) -> Iterator[bytes]:
    """The records of a git command's output split on `separator`, read as they arrive."""
    process = subprocess.Popen(["git", "-C", str(root), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None
    pending = b""
    try:
        while True:
            chunk = process.stdout.read(1 << 16)
            if not chunk:
                break
            pending += chunk
            *records, pending = pending.split(separator)
            yield from records
        if pending:
            yield pending
    finally:
        process.stdout.close()
        stderr = process.stderr.read() if process.stderr else b""
        if process.stderr:
            process.stderr.close()
        code = process.wait()
    if code != 0:
        lines = stderr.decode("utf-8", "replace").strip().splitlines()
        raise HistoryError((lines[-1] if lines else f"git {args[0]} failed").removeprefix("fatal: "))


def read_batch_blob(stdout: IO[bytes]) -> bytes:
    """The next answer of `git cat-file --batch`: the blob's bytes, or b"" for a missing object or one
    that is not a blob."""
    header = stdout.readline().split()
    if len(header) < 3 or header[1] != b"blob":
        return b""
    data = stdout.read(int(header[2]))
    stdout.read(1)
    return data


class BlobReader:
    """One `git cat-file --batch` process for every blob read during a replay."""

    def __init__(self, root: Path) -> None:
        self._process = subprocess.Popen(
            ["git", "-C", str(root), "cat-file", "--batch"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        )

    def read(self, blob: str) -> bytes:
        stdin: IO[bytes] = self._process.stdin  # type: ignore[assignment]
        stdout: IO[bytes] = self._process.stdout  # type: ignore[assignment]
        stdin.write(f"{blob}\n".encode())
        stdin.flush()
        return read_batch_blob(stdout)

    def close(self) -> None:
        if self._process.stdin:
            self._process.stdin.close()
        if self._process.stdout:
            self._process.stdout.close()
        self._process.wait()


def _resolve(root: Path, rev: str) -> str | None:
    completed = subprocess.run(
        ["git", "-C", str(root), "rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}"],
        capture_output=True, check=False,
    )
    return completed.stdout.decode().strip() or None


_DATE_FORMATS = ("%Y-%m-%d", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S")


def parse_date(text: str) -> int | None:
    """Seconds since the epoch for an ISO date (UTC unless it says otherwise), or None."""
    value = text.strip()
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        parsed = None
        for pattern in _DATE_FORMATS:
            try:
                parsed = datetime.strptime(value, pattern)
                break
            except ValueError:
                continue
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return int(parsed.timestamp())


@dataclass(frozen=True)
class Bound:
    """One end of the window: a commit, or a time."""

    text: str
    commit: str | None = None
    time: int | None = None


def resolve_bound(root: Path, text: str, option: str) -> Bound:
    commit = _resolve(root, text)
    if commit:
        return Bound(text, commit=commit)
    when = parse_date(text)
    if when is not None:
        return Bound(text, time=when)
    raise HistoryError(
        f"{option} {text!r} is neither a revision nor a date; give a commit, tag or branch, or a date such as "
        f"2025-08-20 or 2025-08-20T14:00"
    )


# ---------------------------------------------------------------- reading history


@dataclass(frozen=True)
class Commit:
    sha: str
    time: int
    skipped: bool


@dataclass
class History:
    """The window to replay: its commits and how to read each one's go files."""

    root: Path
    commits: list[Commit]
    warm_up: Commit | None
    first_state: dict[str, str]
    base: str  # the commit the go-file changes are read after

    @property
    def counted(self) -> int:
        return len(self.commits)


def _is_go_file(path: str) -> bool:
    return path.rsplit("/", 1)[-1] in GO_FILE_NAMES


def _parse_message(message: str) -> bool:
    lowered = message.lower()
    return any(marker in lowered for marker in SKIP_MARKERS)


def read_history(
    root: Path, *, last: int | None = None, since: str | None = None, until: str | None = None,
    rev: str = "HEAD", warm_start: bool = False,
) -> History:
    """The first-parent commits of `rev` in the window (after `since`, up to `until`, the last `last`)."""
    if not (root / ".git").exists():
        _git(root, "rev-parse", "--git-dir")
    head = _resolve(root, rev)
    if head is None:
        raise HistoryError(f"unknown revision {rev!r}; give a branch, tag or commit of this repository")
    since_bound = resolve_bound(root, since, "--since") if since else None
    until_bound = resolve_bound(root, until, "--until") if until else None
    if until_bound and until_bound.commit:
        head = until_bound.commit
    range_args = [head]
    if since_bound and since_bound.commit:
        range_args = [f"^{since_bound.commit}", head]
    dated = bool((since_bound and since_bound.time is not None) or (until_bound and until_bound.time is not None))
    wanted = None if last is None else last + (1 if warm_start else 0)
    count_args = [f"--max-count={wanted}"] if wanted and not dated else []
    selected: list[Commit] = []
    warm_up: Commit | None = None
    # Dates cut the first-parent chain once, where it first crosses them, so the window stays contiguous.
    inside = not (until_bound and until_bound.time is not None)
    for record in _stream(root, "log", "-z", "--first-parent", "--format=%H %ct%n%B", *count_args, *range_args,
                          separator=b"\0"):
        if not record.strip():
            continue
        header, _, message = record.decode("utf-8", "replace").partition("\n")
        sha, _, stamp = header.partition(" ")
        when = int(stamp or 0)
        if not inside:
            if when > until_bound.time:  # type: ignore[union-attr,operator]
                continue
            inside = True
        if since_bound and since_bound.time is not None and when <= since_bound.time:
            # Before the window: with --warm-start the newest such commit fills the caches.
            if warm_start and warm_up is None:
                warm_up = Commit(sha, when, _parse_message(message))
            break
        selected.append(Commit(sha, when, _parse_message(message)))
        if wanted and len(selected) >= wanted:
            break
    selected.reverse()
    if warm_start and warm_up is None and selected:
        if last is not None and len(selected) > last:
            warm_up = selected.pop(0)
        else:
            parent = _resolve(root, f"{selected[0].sha}^1") if selected else None
            if parent:
                stamp, _, message = _git(root, "log", "-1", "--format=%ct%n%B", parent).decode("utf-8", "replace").partition("\n")
                warm_up = Commit(parent, int(stamp.strip() or 0), _parse_message(message))
    if not selected:
        raise HistoryError(_empty_window_hint(since, until, last, rev))
    first = warm_up or selected[0]
    return History(root, selected, warm_up, _tree_go_files(root, first.sha), first.sha)


def _empty_window_hint(since: str | None, until: str | None, last: int | None, rev: str) -> str:
    parts = [f"--since {since}" if since else "", f"--until {until}" if until else ""]
    window = " ".join(part for part in parts if part) or f"the history of {rev}"
    return (f"{window} selects no first-parent commit of {rev} to replay; --since excludes the commit it names, "
            f"so pick an older revision or date (git log --first-parent --format='%h %cs' {rev} lists them)")


def _tree_go_files(root: Path, commit: str) -> dict[str, str]:
    state: dict[str, str] = {}
    for entry in _stream(root, "ls-tree", "-r", "-z", "--full-tree", commit, separator=b"\0"):
        meta, _, path_bytes = entry.partition(b"\t")
        path = path_bytes.decode("utf-8", "surrogateescape")
        parts = meta.split()
        if len(parts) == 3 and parts[1] == b"blob" and _is_go_file(path):
            state[path] = parts[2].decode()
    return state


def go_file_changes(root: Path, base: str, head: str) -> Iterator[tuple[str, list[tuple[str, str]]]]:
    """(commit, [(path, new blob id or zeros when deleted)]) for each commit after `base` that changed a go file."""
    commit = ""
    entries: list[tuple[str, str]] = []
    meta: bytes | None = None
    for field_bytes in _stream(
        root, "log", "-z", "--reverse", "--first-parent", "--diff-merges=first-parent", "--raw", "--no-abbrev",
        "--no-renames", "--format=%x01%H", f"^{base}", head, "--", *PATHSPECS, separator=b"\0",
    ):
        if meta is not None:
            path = field_bytes.decode("utf-8", "surrogateescape")
            parts = meta.split()
            if len(parts) >= 5 and _is_go_file(path):
                entries.append((path, parts[3].decode()))
            meta = None
            continue
        text = field_bytes.lstrip(b"\n")
        if text.startswith(b"\x01"):
            if commit and entries:
                yield commit, entries
            commit, entries = text[1:].decode().strip(), []
        elif text.startswith(b":"):
            meta = text
    if commit and entries:
        yield commit, entries
