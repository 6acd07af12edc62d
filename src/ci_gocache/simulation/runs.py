"""What each replayed run sees: the go-file state of its commit as a Snapshot (go.sum lines as bit
sets, the Go version), and the kind of change its push brings."""

from __future__ import annotations

import re
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Iterator

from ci_gocache import keys
from ci_gocache.simulation.history import BlobReader, History, go_file_changes, read_batch_blob


SUM_NAMES = frozenset(keys.SUM_FILE_NAMES)
UNKNOWN_GO = "go1"
ZERO_BLOB = "0" * 40
EVENT_KINDS = ("source_only_push", "dependency_bump", "new_dependency", "go_version_change", "pull_request")


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
        return read_batch_blob(stdout)

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
    changes = list(go_file_changes(history.root, history.base, head))
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
