"""Replay a repository's git history as CI runs and compare cache keying strategies.

Each first-parent commit of the branch is one push run on the default branch (commits whose
message says `[skip ci]`, `[ci skip]`, `[no ci]`, `[skip actions]` or `[actions skip]` start no
run, as on GitHub); with `pull_requests=True` every commit is also tried first as a
pull-request run. Only the history of go.sum, go.work.sum, go.mod and go.work files is read:
one `git ls-tree` for the first commit, then one streamed `git log --raw` gives their blob ids
at every commit that changed one, and those ids stand in for file contents in the key digests
(two files have the same blob id exactly when they have the same bytes, which is all a key
needs). File contents (go.sum lines, go.mod's Go version, go.work's `use` lines) come from one
`git cat-file --batch` process, once per blob.

Module downloads are counted on bit sets: every `module version` (and `.../go.mod`) line of
every go.sum seen gets one bit, a cache entry holds the bits of what it contains. That keeps
memory to a few kilobytes per distinct go.sum state and per saved entry.

The cache service is modelled as actions/cache uses it: entries are immutable; a lookup tries
the run's own ref and then the default branch, and in each scope the exact key, then the
newest entry whose key starts with the key, then the newest entry for each restore-key prefix
in order. Saving a key that already exists in the scope is refused and uploads nothing.
Eviction (7 days unused, the size limit) is not modelled.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import re
import statistics
import subprocess
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any, Callable, Iterator

from ci_gocache import keys

GO_FILE_NAMES = frozenset({"go.sum", "go.mod", "go.work", "go.work.sum"})
SUM_NAMES = frozenset(keys.SUM_FILE_NAMES)
PATHSPECS = ["*go.sum", "*go.mod", "*go.work", "*go.work.sum"]
DEFAULT_REF = "refs/heads/main"
SIMULATED_OS = "Linux"
SIMULATED_ARCH = "X64"
SIMULATED_JOB = "build"
UNKNOWN_GO = "go1"
ZERO_BLOB = "0" * 40
# GitHub starts no push or pull_request run for a head commit whose message holds one of these.
SKIP_MARKERS = ("[skip ci]", "[ci skip]", "[no ci]", "[skip actions]", "[actions skip]")
EVENT_KINDS = ("source_only_push", "dependency_bump", "new_dependency", "go_version_change", "pull_request")


class HistoryError(Exception):
    """The directory or revision cannot be replayed (not a git repository, unknown revision)."""


class CostsError(Exception):
    """A costs file that cannot be used."""


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
        header = stdout.readline().split()
        if len(header) < 3 or header[1] != b"blob":
            return b""
        data = stdout.read(int(header[2]))
        stdout.read(1)
        return data

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


@dataclass(frozen=True)
class Snapshot:
    """The go-file state of a commit, as the strategies see it."""

    action_sums: tuple[str, ...]  # blob ids of the files the ci-gocache action keys on, in path order
    go_sums: tuple[str, ...]  # blob ids of every go.sum (hashFiles('**/go.sum'))
    root_go_sum: str  # blob id of ./go.sum, "" when absent
    root_go_mod: str  # blob id of ./go.mod, "" when absent
    go_version: str  # from ./go.mod's toolchain or go line, as setup-go's go-version-file installs it
    needed: int  # bit set of the go.sum lines (module zips and go.mod files) every module needs
    modules: int  # bit set of the module paths those lines name


@dataclass(frozen=True)
class RunInput:
    """What a strategy needs to know about one commit."""

    position: int  # index among the simulated commits, oldest first
    commit: str
    time: int
    snapshot: Snapshot
    event: str  # the kind of change this push brings: one of EVENT_KINDS but pull_request
    warm_up: bool = False  # replayed to fill the caches only; not counted
    changed_go_files: bool = False  # this commit changed a go.sum, go.mod, go.work or go.work.sum


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


def _go_file_changes(root: Path, base: str, head: str) -> Iterator[tuple[str, list[tuple[str, str]]]]:
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


_GO_DIRECTIVE = re.compile(rb"^go\s+(\d[\w.\-]*)\s*$", re.MULTILINE)
_TOOLCHAIN_DIRECTIVE = re.compile(rb"^toolchain\s+(go\d[\w.\-]*)\s*$", re.MULTILINE)


def go_version_of(go_mod: bytes) -> str:
    """The Go version setup-go's go-version-file installs for a go.mod: its toolchain line, else its go line."""
    toolchain = _TOOLCHAIN_DIRECTIVE.search(go_mod)
    if toolchain:
        return toolchain.group(1).decode()
    directive = _GO_DIRECTIVE.search(go_mod)
    return f"go{directive.group(1).decode()}" if directive else UNKNOWN_GO


class BlobStream:
    """Blob contents in a known order from one `git cat-file --batch`: a thread writes the ids, the
    replay reads the contents as it needs them, so git never waits for a round trip."""

    def __init__(self, root: Path, blobs: list[str]) -> None:
        self._process = subprocess.Popen(
            ["git", "-C", str(root), "cat-file", "--batch"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        )
        self._writer = threading.Thread(target=self._write, args=(blobs,), daemon=True)
        self._writer.start()

    def _write(self, blobs: list[str]) -> None:
        stdin = self._process.stdin
        assert stdin is not None
        try:
            for start in range(0, len(blobs), 256):
                stdin.write("".join(f"{blob}\n" for blob in blobs[start:start + 256]).encode())
            stdin.close()
        except (BrokenPipeError, ValueError):
            pass

    def next(self) -> bytes:
        stdout: IO[bytes] = self._process.stdout  # type: ignore[assignment]
        header = stdout.readline().split()
        if len(header) < 3 or header[1] != b"blob":
            return b""
        data = stdout.read(int(header[2]))
        stdout.read(1)
        return data

    def close(self) -> None:
        if self._process.stdout:
            self._process.stdout.close()
        self._process.kill()
        self._process.wait()
        self._writer.join(timeout=5)


@dataclass
class _SumFile:
    """One go.sum (or go.work.sum) path as the replay last saw it: its lines, and their bit sets."""

    lines: set[bytes] = field(default_factory=set)
    artifacts: int = 0
    modules: int = 0
    module_lines: dict[bytes, int] = field(default_factory=dict)


class _Snapshots:
    """Turns go-file states into snapshots. A go.sum that changes is compared with its previous
    version line by line (set differences), so only the lines a bump touches are parsed."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.artifact_bits: dict[bytes, int] = {}
        self.module_bits: dict[bytes, int] = {}
        self.sum_files: dict[str, _SumFile] = {}
        self.go_version = UNKNOWN_GO
        self._reader: BlobReader | None = None  # for go.work files, read only when discovery asks

    def read_on_demand(self, blob: str) -> str:
        if self._reader is None:
            self._reader = BlobReader(self.root)
        return self._reader.read(blob).decode("utf-8", "replace")

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()

    def update_sum_file(self, path: str, body: bytes | None) -> None:
        """The new contents of a sum file, or None when it was deleted."""
        old = self.sum_files.get(path) or _SumFile()
        if body is None:
            self.sum_files.pop(path, None)
            return
        new_lines = set(body.splitlines())
        added, removed = new_lines - old.lines, old.lines - new_lines
        current = _SumFile(new_lines, old.artifacts, old.modules, old.module_lines if path in self.sum_files else {})
        kept_keys = {line.rsplit(b" ", 1)[0] for line in added}
        for line in removed:
            fields = line.split()
            if len(fields) < 3:
                continue
            key = line.rsplit(b" ", 1)[0]
            if key not in kept_keys:
                current.artifacts &= ~(1 << self.artifact_bits[key])
            count = current.module_lines.get(fields[0], 0) - 1
            if count <= 0:
                current.module_lines.pop(fields[0], None)
                current.modules &= ~(1 << self.module_bits[fields[0]])
            else:
                current.module_lines[fields[0]] = count
        for line in added:
            fields = line.split()
            if len(fields) < 3:
                continue
            key = line.rsplit(b" ", 1)[0]
            bit = self.artifact_bits.setdefault(key, len(self.artifact_bits))
            current.artifacts |= 1 << bit
            module_bit = self.module_bits.setdefault(fields[0], len(self.module_bits))
            current.module_lines[fields[0]] = current.module_lines.get(fields[0], 0) + 1
            current.modules |= 1 << module_bit
        self.sum_files[path] = current

    def snapshot(self, state: dict[str, str]) -> Snapshot:
        tree = keys.ListedTree(state, lambda path: self.read_on_demand(state[path]))
        action_sums = tuple(state[path] for path in keys.default_sum_files(tree))
        go_sums = tuple(state[path] for path in sorted(state) if path.rsplit("/", 1)[-1] == "go.sum")
        needed = modules = 0
        for sum_file in self.sum_files.values():
            needed |= sum_file.artifacts
            modules |= sum_file.modules
        return Snapshot(action_sums, go_sums, state.get("go.sum", ""), state.get("go.mod", ""), self.go_version,
                        needed, modules)


def _event_of(previous: Snapshot | None, current: Snapshot) -> str:
    """What a push brings, for --costs: a Go version change, a new module, another version, or only source."""
    if previous is None or previous is current:
        return "source_only_push"
    if previous.go_version != current.go_version:
        return "go_version_change"
    if current.modules & ~previous.modules:
        return "new_dependency"
    if previous.needed != current.needed or previous.action_sums != current.action_sums:
        return "dependency_bump"
    return "source_only_push"


def _is_sum_file(path: str) -> bool:
    return path.rsplit("/", 1)[-1] in SUM_NAMES


def iter_runs(history: History) -> Iterator[RunInput]:
    """Every commit of the window as a run, oldest first.

    The go-file changes of the window are listed first (paths and blob ids only); the contents of
    the go.sum files and of ./go.mod then stream in that order through one `git cat-file --batch`.
    """
    head = history.commits[-1].sha
    changes = list(_go_file_changes(history.root, history.base, head))
    state = dict(history.first_state)
    wanted = [state[path] for path in sorted(state) if _is_sum_file(path)]
    if "go.mod" in state:
        wanted.append(state["go.mod"])
    for _, entries in changes:
        wanted += [blob for path, blob in entries if blob != ZERO_BLOB and (_is_sum_file(path) or path == "go.mod")]
    stream = BlobStream(history.root, wanted)
    snapshots = _Snapshots(history.root)
    try:
        for path in sorted(state):
            if _is_sum_file(path):
                snapshots.update_sum_file(path, stream.next())
        if "go.mod" in state:
            snapshots.go_version = go_version_of(stream.next())
        current = snapshots.snapshot(state)
        previous: Snapshot | None = None
        change_index = 0
        ordered = ([history.warm_up] if history.warm_up else []) + history.commits
        position = 0
        for commit in ordered:
            changed = change_index < len(changes) and changes[change_index][0] == commit.sha
            if changed:
                for path, blob in changes[change_index][1]:
                    deleted = blob == ZERO_BLOB
                    if deleted:
                        state.pop(path, None)
                    else:
                        state[path] = blob
                    if _is_sum_file(path):
                        snapshots.update_sum_file(path, None if deleted else stream.next())
                    elif path == "go.mod":
                        snapshots.go_version = UNKNOWN_GO if deleted else go_version_of(stream.next())
                current = snapshots.snapshot(state)
                change_index += 1
            warm_up = commit is history.warm_up
            event = _event_of(previous, current)
            previous = current
            yield RunInput(-1 if warm_up else position, commit.sha, commit.time, current, event, warm_up, changed)
            if not warm_up:
                position += 1
    finally:
        stream.close()
        snapshots.close()


# ---------------------------------------------------------------- the cache service


@dataclass
class CacheEntry:
    key: str
    sequence: int  # creation order: higher is newer
    position: int  # the simulated commit whose run saved it
    content: int  # bit set of the go.sum lines whose modules the entry holds


@dataclass
class _Scope:
    by_key: dict[str, CacheEntry] = field(default_factory=dict)
    sorted_keys: list[str] = field(default_factory=list)
    newest_by_prefix: dict[str, CacheEntry | None] = field(default_factory=dict)

    def newest_with_prefix(self, prefix: str) -> CacheEntry | None:
        if prefix in self.newest_by_prefix:
            return self.newest_by_prefix[prefix]
        newest: CacheEntry | None = None
        start = bisect.bisect_left(self.sorted_keys, prefix)
        for key in self.sorted_keys[start:]:
            if not key.startswith(prefix):
                break
            entry = self.by_key[key]
            if newest is None or entry.sequence > newest.sequence:
                newest = entry
        # Restore-key prefixes end with "-" and are asked for again and again: remember them.
        if prefix.endswith("-"):
            self.newest_by_prefix[prefix] = newest
        return newest

    def add(self, entry: CacheEntry) -> None:
        self.by_key[entry.key] = entry
        bisect.insort(self.sorted_keys, entry.key)
        key = entry.key
        cut = key.find("-")
        while cut >= 0:
            prefix = key[: cut + 1]
            if prefix in self.newest_by_prefix:
                self.newest_by_prefix[prefix] = entry
            cut = key.find("-", cut + 1)


class CacheService:
    """An actions/cache-like store: immutable entries, scoped by git ref."""

    def __init__(self) -> None:
        self._scopes: dict[str, _Scope] = {}
        self._sequence = 0

    def _scope(self, ref: str) -> _Scope:
        scope = self._scopes.get(ref)
        if scope is None:
            scope = self._scopes[ref] = _Scope()
        return scope

    def restore(self, key: str, restore_keys: list[str], refs: list[str]) -> tuple[str, CacheEntry | None]:
        """("exact" | "partial" | "miss", entry): own ref first, then the base branch."""
        for ref in refs:
            scope = self._scopes.get(ref)
            if scope is None:
                continue
            exact = scope.by_key.get(key)
            if exact is not None:
                return "exact", exact
            for prefix in [key, *restore_keys]:
                found = scope.newest_with_prefix(prefix)
                if found is not None:
                    return "partial", found
        return "miss", None

    def save(self, ref: str, key: str, position: int, content: int) -> bool:
        scope = self._scope(ref)
        if key in scope.by_key:
            return False
        self._sequence += 1
        scope.add(CacheEntry(key, self._sequence, position, content))
        return True

    def drop_ref(self, ref: str) -> None:
        """Forget a ref's entries (a pull request's scope, once it has merged)."""
        self._scopes.pop(ref, None)


# ---------------------------------------------------------------- strategies


@dataclass(frozen=True)
class CacheSpec:
    """One actions/cache step: its key, restore keys and when it saves. An empty key caches nothing."""

    key: str
    restore_keys: list[str]
    save: bool


@dataclass(frozen=True)
class Strategy:
    name: str
    description: str
    # (run, event, run number) -> module cache spec, and build cache spec or None when the build
    # cache lives in the same entry as the modules.
    plan: Callable[[RunInput, str, int], tuple[CacheSpec, CacheSpec | None]]


def _digest(blobs: tuple[str, ...]) -> str:
    if not blobs:
        return ""
    return hashlib.sha256("".join(blobs).encode()).hexdigest()


def _setup_go_key(dependency_blob: str, go_version: str) -> str:
    # setup-go's primary key: setup-go-<os>-<arch>-go-<version>-<hashFiles(dependency file)>.
    return f"setup-go-{SIMULATED_OS}-x64-go-{go_version.removeprefix('go')}-{_digest((dependency_blob,))}"


def _setup_go_plan(run: RunInput, event: str, number: int) -> tuple[CacheSpec, CacheSpec | None]:
    # setup-go v6.3+ with `cache: true`: ./go.mod is the dependency file; without one it caches nothing.
    if not run.snapshot.root_go_mod:
        return CacheSpec("", [], False), None
    return CacheSpec(_setup_go_key(run.snapshot.root_go_mod, run.snapshot.go_version), [], True), None


def _setup_go_sum_plan(run: RunInput, event: str, number: int) -> tuple[CacheSpec, CacheSpec | None]:
    # setup-go before v6.3 (and any version with cache-dependency-path: go.sum): ./go.sum.
    if not run.snapshot.root_go_sum:
        return CacheSpec("", [], False), None
    return CacheSpec(_setup_go_key(run.snapshot.root_go_sum, run.snapshot.go_version), [], True), None


def _readme_plan(run: RunInput, event: str, number: int) -> tuple[CacheSpec, CacheSpec | None]:
    # actions/cache README, Go: key ${{ runner.os }}-go-${{ hashFiles('**/go.sum') }}, restore-keys ${{ runner.os }}-go-
    base = f"{SIMULATED_OS}-go-"
    return CacheSpec(base + _digest(run.snapshot.go_sums), [base], True), None


def _ci_gocache_plan(run: RunInput, event: str, number: int) -> tuple[CacheSpec, CacheSpec | None]:
    parts = keys.KeyParts(
        prefix=keys.DEFAULT_PREFIX, os_name=SIMULATED_OS, arch=SIMULATED_ARCH,
        sums_digest=_digest(run.snapshot.action_sums), go_version=keys.key_safe(run.snapshot.go_version),
        job=SIMULATED_JOB, run=f"{number}-1",
    )
    saves = event == "push"  # the action's save: auto saves on pushes to the default branch only
    module = CacheSpec(keys.module_cache_key(parts), keys.module_restore_keys(parts), saves)
    build = CacheSpec(keys.build_cache_key(parts), keys.build_restore_keys(parts), saves)
    return module, build


STRATEGIES = [
    Strategy(
        "setup-go",
        "actions/setup-go v6.3+ default (cache: true): one entry for modules and build cache, key on ./go.mod and the"
        " Go version, no restore-keys, saved (also from pull requests) only on a miss; no ./go.mod, no cache",
        _setup_go_plan,
    ),
    Strategy(
        "setup-go-go.sum",
        "actions/setup-go before v6.3 (or cache-dependency-path: go.sum): the same, keyed on ./go.sum;"
        " no ./go.sum, no cache",
        _setup_go_sum_plan,
    ),
    Strategy(
        "actions-cache-readme",
        "actions/cache README recipe for Go: one entry for ~/go/pkg/mod and ~/.cache/go-build,"
        " key <os>-go-hashFiles('**/go.sum'), restore-keys <os>-go-, saved by the post step unless the key hit exactly",
        _readme_plan,
    ),
    Strategy(
        "ci-gocache",
        "the ci-gocache action: module cache keyed on the files the action finds (the root module or go.work, else"
        " every go.sum outside testdata/ and vendor/), restore key by prefix, saved on a miss; build cache keyed per"
        " run with two restore keys, saved on every push to the default branch; pull requests restore only",
        _ci_gocache_plan,
    ),
]
STRATEGY_NAMES = [strategy.name for strategy in STRATEGIES]


# ---------------------------------------------------------------- replay


@dataclass
class _Replay:
    strategy: Strategy
    service: CacheService = field(default_factory=CacheService)
    mod: dict[str, int] = field(default_factory=lambda: {"exact": 0, "partial": 0, "miss": 0, "uncached": 0})
    build: dict[str, int] = field(default_factory=lambda: {"exact": 0, "partial": 0, "miss": 0, "uncached": 0})
    staleness: list[int] = field(default_factory=list)
    saves: dict[str, int] = field(default_factory=lambda: {"push": 0, "pull_request": 0})
    downloads: int = 0
    avoided: int = 0
    runs: dict[str, int] = field(default_factory=lambda: {"push": 0, "pull_request": 0})
    cold_by_position: list[int] = field(default_factory=list)  # 1 for a cold push run, in order

    def run(self, run: RunInput, event: str, ref: str, number: int) -> None:
        counted = not run.warm_up
        refs = [ref] if ref == DEFAULT_REF else [ref, DEFAULT_REF]
        module_spec, build_spec = self.strategy.plan(run, event, number)
        if not module_spec.key:
            hit, entry = "uncached", None
        else:
            hit, entry = self.service.restore(module_spec.key, module_spec.restore_keys, refs)
        restored = entry.content if entry else 0
        needed = run.snapshot.needed
        missing = (needed & ~restored).bit_count()
        build_hit, build_entry = hit, entry
        if build_spec is not None:
            build_hit, build_entry = self.service.restore(build_spec.key, build_spec.restore_keys, refs)
        if counted:
            self.runs[event] += 1
            self.mod[hit] += 1
            self.build[build_hit] += 1
            self.downloads += missing
            self.avoided += needed.bit_count() - missing
            if build_entry is not None:
                self.staleness.append(run.position - build_entry.position)
            if event == "push":
                self.cold_by_position.append(1 if hit in ("miss", "uncached") else 0)
        # Saving on a miss only: actions/cache and setup-go skip the save after an exact hit.
        if module_spec.key and module_spec.save and hit != "exact":
            if self.service.save(ref, module_spec.key, run.position, restored | needed) and counted:
                self.saves[event] += 1
        if build_spec is not None and build_spec.save and build_hit != "exact":
            if self.service.save(ref, build_spec.key, run.position, 0) and counted:
                self.saves[event] += 1

    def result(self) -> dict[str, Any]:
        runs = self.runs["push"] + self.runs["pull_request"]
        cold = self.mod["miss"] + self.mod["uncached"]
        return {
            "name": self.strategy.name,
            "description": self.strategy.description,
            "runs": runs,
            "pull_request_runs": self.runs["pull_request"],
            "mod": dict(self.mod),
            "build": {**self.build, "staleness": _staleness(self.staleness)},
            "cold_runs": cold,
            "cold_share": round(cold / runs, 4) if runs else None,
            "saves": self.saves["push"] + self.saves["pull_request"],
            "pull_request_saves": self.saves["pull_request"],
            "module_downloads": self.downloads,
            "module_downloads_avoided": self.avoided,
            "cold_timeline": _buckets(self.cold_by_position),
        }


def _buckets(flags: list[int], count: int = 24) -> list[float]:
    """The share of cold runs in up to `count` equal slices of the window, oldest first (for charts)."""
    if not flags:
        return []
    slices = min(count, len(flags))
    shares = []
    for index in range(slices):
        start, end = index * len(flags) // slices, (index + 1) * len(flags) // slices
        part = flags[start:end]
        shares.append(round(sum(part) / len(part), 3) if part else 0.0)
    return shares


def _bucket_starts(times: list[int], count: int = 24) -> list[int]:
    slices = min(count, len(times))
    return [times[index * len(times) // slices] for index in range(slices)]


def simulate(history: History, *, pull_requests: bool = False, strategies: list[Strategy] | None = None) -> dict[str, Any]:
    replays = [_Replay(strategy) for strategy in (strategies or STRATEGIES)]
    events = {kind: 0 for kind in EVENT_KINDS}
    go_file_changes = skipped = 0
    number = 0
    first = last = None
    push_times: list[int] = []
    for run in iter_runs(history):
        commit = history.warm_up if run.warm_up else history.commits[run.position]
        if not run.warm_up:
            go_file_changes += run.changed_go_files
            first = first or run
            last = run
        if commit is not None and commit.skipped:
            if not run.warm_up:
                skipped += 1
            continue
        plan = []
        if pull_requests and not run.warm_up and run.position > 0:
            plan.append(("pull_request", f"refs/pull/{run.position}/merge"))
        plan.append(("push", DEFAULT_REF))
        if not run.warm_up:
            push_times.append(run.time)
        for event, ref in plan:
            number += 1
            if not run.warm_up:
                events["pull_request" if event == "pull_request" else run.event] += 1
            for replay in replays:
                replay.run(run, event, ref, number)
    assert first is not None and last is not None
    return {
        "commits": history.counted,
        "runs_skipped": skipped,
        "first": first.commit,
        "last": last.commit,
        "first_date": _iso(first.time),
        "last_date": _iso(last.time),
        "warm_start": history.warm_up is not None,
        "go_file_changes": go_file_changes,
        "pull_requests": pull_requests,
        "events": events,
        "timeline_dates": [_iso(stamp) for stamp in _bucket_starts(push_times)],
        "strategies": [replay.result() for replay in replays],
    }


def _iso(stamp: int) -> str:
    return datetime.fromtimestamp(stamp, tz=timezone.utc).strftime("%Y-%m-%d")


def _staleness(values: list[int]) -> dict[str, float | int | None]:
    """How many commits behind the run the restored build cache was saved."""
    if not values:
        return {"restores": 0, "mean": None, "median": None, "p90": None, "max": None}
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, max(0, -(-len(ordered) * 9 // 10) - 1))]
    return {
        "restores": len(ordered),
        "mean": round(statistics.fmean(ordered), 2),
        "median": statistics.median(ordered),
        "p90": p90,
        "max": ordered[-1],
    }


# ---------------------------------------------------------------- projected CI time from per-event costs

COSTS_FORMAT = "ci-gocache-costs/1"


def load_costs(path: Path) -> dict[str, Any]:
    """A costs file: {"format", "source", "strategies": {name: {event kind: seconds}}}, checked."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise CostsError(f"{path}:1:1: cannot read the costs file ({error.strerror}); give a JSON file") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise CostsError(f"{path}:{error.lineno}:{error.colno}: not JSON ({error.msg}); see docs/simulate.md for the format") from None
    if not isinstance(document, dict) or document.get("format") != COSTS_FORMAT:
        raise CostsError(f'{path}:1:1: not a costs file; it needs "format": "{COSTS_FORMAT}" (see docs/simulate.md)')
    strategies = document.get("strategies")
    if not isinstance(strategies, dict) or not strategies:
        raise CostsError(f'{path}:1:1: "strategies" must map strategy names to per-event seconds')
    for name, costs in strategies.items():
        if name not in STRATEGY_NAMES:
            raise CostsError(f"{path}:1:1: unknown strategy {name!r}; use one of {', '.join(STRATEGY_NAMES)}")
        if not isinstance(costs, dict):
            raise CostsError(f"{path}:1:1: strategy {name!r} must map event kinds to seconds")
        for kind in EVENT_KINDS:
            value = costs.get(kind)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise CostsError(f"{path}:1:1: strategy {name!r} needs {kind!r} as seconds (a number >= 0); "
                                 f"give all of {', '.join(EVENT_KINDS)}")
    return document


def project_costs(result: dict[str, Any], costs: dict[str, Any]) -> dict[str, Any]:
    """CI minutes per strategy: the window's event counts times each strategy's seconds per event."""
    events = result["events"]
    minutes: dict[str, float] = {}
    for name, per_event in costs["strategies"].items():
        seconds = sum(events[kind] * float(per_event[kind]) for kind in EVENT_KINDS)
        minutes[name] = round(seconds / 60, 1)
    baseline_name = next((name for name in ("setup-go", "setup-go-go.sum") if minutes.get(name)), None)
    baseline = minutes[baseline_name] if baseline_name else 0.0
    return {
        "source": costs.get("source", ""),
        "minutes": minutes,
        "baseline": baseline_name,
        "ratio_to_baseline": {name: round(value / baseline, 3) for name, value in minutes.items()} if baseline else {},
    }


# ---------------------------------------------------------------- text output

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
