"""Replay a repository's git history as CI runs and compare cache keying strategies.

Each first-parent commit of the branch is one push run on the default branch; with
`pull_requests=True` every commit is also tried first as a pull-request run. Only the history
of go.sum, go.work.sum, go.mod and go.work files is read: one `git log --raw` gives their blob
ids at every commit, and those ids stand in for file contents in the key digests (two files
have the same blob id exactly when they have the same bytes, which is all a key needs).
Module downloads are counted from go.sum lines, read once per distinct go.sum blob with
`git cat-file --batch`.

The cache service is modelled as actions/cache uses it: entries are immutable; a lookup tries
the run's own ref and then the default branch, and in each scope the exact key, then the
newest entry whose key starts with the key, then the newest entry for each restore-key prefix
in order. Saving a key that already exists in the scope is refused and uploads nothing.
Eviction (7 days unused, the size limit) is not modelled.
"""

from __future__ import annotations

import bisect
import hashlib
import statistics
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ci_gocache import keys

GO_FILE_NAMES = frozenset({"go.sum", "go.mod", "go.work", "go.work.sum"})
SUM_NAMES = frozenset(keys.SUM_FILE_NAMES)
PATHSPECS = ["*go.sum", "*go.mod", "*go.work", "*go.work.sum"]
DEFAULT_REF = "refs/heads/main"
SIMULATED_OS = "Linux"
SIMULATED_ARCH = "X64"
SIMULATED_GO = "go1"
SIMULATED_JOB = "build"
ZERO_BLOB = "0" * 40


class HistoryError(Exception):
    """The directory or revision cannot be replayed (not a git repository, unknown revision)."""


# ---------------------------------------------------------------- reading history


@dataclass(frozen=True)
class RunInput:
    """What a strategy needs to know about one commit."""

    position: int  # index among the simulated commits, oldest first
    commit: str
    all_sums: tuple[str, ...]  # blob ids, path order: go.sum and go.work.sum, go.mod where a module has no go.sum
    go_sums: tuple[str, ...]  # blob ids of every go.sum (hashFiles('**/go.sum'))
    root_go_sum: str  # blob id of ./go.sum, "" when absent (setup-go's default dependency file)
    needed: int  # index into History.needed_sets


@dataclass
class History:
    runs: list[RunInput]
    needed_sets: list[frozenset[str]]
    sum_file_changes: int  # commits among the simulated ones that changed a go file


def _git(root: Path, *args: str, input_bytes: bytes | None = None) -> bytes:
    completed = subprocess.run(
        ["git", "-C", str(root), *args], input=input_bytes, capture_output=True, check=False
    )
    if completed.returncode != 0:
        message = completed.stderr.decode("utf-8", "replace").strip().splitlines()
        text = message[-1] if message else f"git {args[0]} failed"
        raise HistoryError(text.removeprefix("fatal: "))
    return completed.stdout


def _resolve(root: Path, rev: str) -> str:
    try:
        commit = _git(root, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}").decode().strip()
    except HistoryError:
        commit = ""
    if not commit:
        raise HistoryError(f"unknown revision {rev!r}")
    return commit


def _is_go_file(path: str) -> bool:
    return path.rsplit("/", 1)[-1] in GO_FILE_NAMES


def read_history(root: Path, *, last: int | None = None, since: str | None = None, rev: str = "HEAD") -> History:
    """The go-file state at every first-parent commit of `rev` (after `since`, or the last `last`)."""
    if not (root / ".git").exists():
        _git(root, "rev-parse", "--git-dir")
    head = _resolve(root, rev)
    range_args = [head]
    if since:
        range_args = [f"^{_resolve(root, since)}", head]
    count_args = [f"--max-count={last}"] if last else []
    commits = _git(root, "rev-list", "--first-parent", *count_args, *range_args).decode().split()
    commits.reverse()
    if not commits:
        return History([], [], 0)

    state = _tree_go_files(root, commits[0])
    changes = _go_file_changes(root, commits[0], head)
    needed_cache: dict[tuple[str, ...], int] = {}
    needed_sets: list[frozenset[str]] = []
    pending_blobs: dict[tuple[str, ...], int] = {}
    runs: list[RunInput] = []
    current: RunInput | None = None
    changed_commits = 0
    for position, commit in enumerate(commits):
        change = changes.get(commit)
        if change:
            changed_commits += 1
            for path, blob in change:
                if blob == ZERO_BLOB:
                    state.pop(path, None)
                else:
                    state[path] = blob
        if current is None or change:
            all_sums, go_sums, root_go_sum, sum_blobs = _digest_inputs(state)
            needed = needed_cache.get(sum_blobs)
            if needed is None:
                needed = needed_cache[sum_blobs] = len(needed_cache)
                pending_blobs[sum_blobs] = needed
            current = RunInput(position, commit, all_sums, go_sums, root_go_sum, needed)
        else:
            current = RunInput(position, commit, current.all_sums, current.go_sums, current.root_go_sum, current.needed)
        runs.append(current)

    contents = _read_sum_blobs(root, {blob for blobs in pending_blobs for blob in blobs})
    needed_sets = [frozenset()] * len(pending_blobs)
    for blobs, index in pending_blobs.items():
        combined: set[str] = set()
        for blob in blobs:
            combined.update(contents.get(blob, ()))
        needed_sets[index] = frozenset(combined)
    return History(runs, needed_sets, changed_commits)


def _tree_go_files(root: Path, commit: str) -> dict[str, str]:
    state: dict[str, str] = {}
    for entry in _git(root, "ls-tree", "-r", "-z", "--full-tree", commit).split(b"\0"):
        if not entry:
            continue
        meta, _, path_bytes = entry.partition(b"\t")
        path = path_bytes.decode("utf-8", "surrogateescape")
        parts = meta.split()
        if len(parts) == 3 and parts[1] == b"blob" and _is_go_file(path):
            state[path] = parts[2].decode()
    return state


def _go_file_changes(root: Path, first: str, head: str) -> dict[str, list[tuple[str, str]]]:
    """Per commit after `first`: (path, new blob id or zeros when deleted), from one git log."""
    output = _git(
        root, "log", "-z", "--first-parent", "--diff-merges=first-parent", "--raw", "--no-abbrev",
        "--no-renames", "--format=%x01%H", f"^{first}", head, "--", *PATHSPECS,
    )
    changes: dict[str, list[tuple[str, str]]] = {}
    for chunk in output.split(b"\x01"):
        if not chunk:
            continue
        fields = chunk.split(b"\0")
        commit = fields[0].decode().strip()
        entries: list[tuple[str, str]] = []
        index = 1
        while index + 1 < len(fields):
            meta = fields[index].strip()
            if not meta.startswith(b":"):
                index += 1
                continue
            path = fields[index + 1].decode("utf-8", "surrogateescape")
            index += 2
            parts = meta.split()
            if len(parts) >= 5 and _is_go_file(path):
                entries.append((path, parts[3].decode()))
        if entries:
            changes[commit] = entries
    return changes


def _digest_inputs(state: dict[str, str]) -> tuple[tuple[str, ...], tuple[str, ...], str, tuple[str, ...]]:
    paths = sorted(state)
    sum_dirs = {path.rsplit("/", 1)[0] if "/" in path else "" for path in paths if path.endswith("/go.sum") or path == "go.sum"}
    all_sums: list[str] = []
    go_sums: list[str] = []
    sum_blobs: list[str] = []
    for path in paths:
        name = path.rsplit("/", 1)[-1]
        directory = path.rsplit("/", 1)[0] if "/" in path else ""
        if name in SUM_NAMES:
            all_sums.append(state[path])
            sum_blobs.append(state[path])
            if name == "go.sum":
                go_sums.append(state[path])
        elif name == "go.mod" and directory not in sum_dirs:
            all_sums.append(state[path])
    return tuple(all_sums), tuple(go_sums), state.get("go.sum", ""), tuple(sorted(set(sum_blobs)))


def _read_sum_blobs(root: Path, blobs: set[str]) -> dict[str, frozenset[str]]:
    """Each go.sum blob as the set of artifacts it pins: `module@version` zips and `.../go.mod` files."""
    if not blobs:
        return {}
    ordered = sorted(blobs)
    output = _git(root, "cat-file", "--batch", input_bytes="".join(f"{blob}\n" for blob in ordered).encode())
    contents: dict[str, frozenset[str]] = {}
    offset = 0
    for blob in ordered:
        header_end = output.index(b"\n", offset)
        header = output[offset:header_end].split()
        offset = header_end + 1
        if len(header) < 3 or header[1] != b"blob":
            continue
        size = int(header[2])
        body = output[offset:offset + size]
        offset += size + 1
        artifacts: set[str] = set()
        for line in body.decode("utf-8", "replace").splitlines():
            fields = line.split()
            if len(fields) >= 3:
                artifacts.add(f"{fields[0]}@{fields[1]}")
        contents[blob] = frozenset(artifacts)
    return contents


# ---------------------------------------------------------------- the cache service


@dataclass
class CacheEntry:
    key: str
    sequence: int  # creation order: higher is newer
    position: int  # the simulated commit whose run saved it
    content: int  # index into the simulation's module-content sets


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


# ---------------------------------------------------------------- strategies


@dataclass(frozen=True)
class CacheSpec:
    """One actions/cache step: its key, restore keys and when it saves."""

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


def _setup_go_plan(run: RunInput, event: str, number: int) -> tuple[CacheSpec, CacheSpec | None]:
    # setup-go v4/v5 with `cache: true`: ./go.sum is the dependency file; without one it caches nothing.
    if not run.root_go_sum:
        return CacheSpec("", [], False), None
    key = f"setup-go-{SIMULATED_OS}-x64-go-{SIMULATED_GO}-{_digest((run.root_go_sum,))}"
    return CacheSpec(key, [], True), None


def _readme_plan(run: RunInput, event: str, number: int) -> tuple[CacheSpec, CacheSpec | None]:
    # actions/cache README, Go: key ${{ runner.os }}-go-${{ hashFiles('**/go.sum') }}, restore-keys ${{ runner.os }}-go-
    base = f"{SIMULATED_OS}-go-"
    return CacheSpec(base + _digest(run.go_sums), [base], True), None


def _ci_gocache_plan(run: RunInput, event: str, number: int) -> tuple[CacheSpec, CacheSpec | None]:
    parts = keys.KeyParts(
        prefix=keys.DEFAULT_PREFIX, os_name=SIMULATED_OS, arch=SIMULATED_ARCH, sums_digest=_digest(run.all_sums),
        go_version=SIMULATED_GO, job=SIMULATED_JOB, run=f"{number}-1",
    )
    saves = event == "push"  # the patcher's default --save-on default-branch
    module = CacheSpec(keys.module_cache_key(parts), keys.module_restore_keys(parts), saves)
    build = CacheSpec(keys.build_cache_key(parts), keys.build_restore_keys(parts), saves)
    return module, build


STRATEGIES = [
    Strategy(
        "setup-go",
        "actions/setup-go default (cache: true): one entry for modules and build cache, key on ./go.sum,"
        " no restore-keys, saved (also from pull requests) only on a miss",
        _setup_go_plan,
    ),
    Strategy(
        "actions-cache-readme",
        "actions/cache README recipe for Go: one entry for ~/go/pkg/mod and ~/.cache/go-build,"
        " key <os>-go-hashFiles('**/go.sum'), restore-keys <os>-go-, saved by the post step unless the key hit exactly",
        _readme_plan,
    ),
    Strategy(
        "ci-gocache",
        "ci-gocache patch: module cache keyed on the go.sum digest with a prefix restore key, saved on a miss;"
        " build cache keyed per run with two restore keys, saved on every push to the default branch;"
        " pull requests restore only",
        _ci_gocache_plan,
    ),
]


# ---------------------------------------------------------------- replay


@dataclass
class _Tally:
    mod: dict[str, int] = field(default_factory=lambda: {"exact": 0, "partial": 0, "miss": 0})
    build: dict[str, int] = field(default_factory=lambda: {"exact": 0, "partial": 0, "miss": 0})
    staleness: list[int] = field(default_factory=list)
    saves: dict[str, int] = field(default_factory=lambda: {"push": 0, "pull_request": 0})
    downloads: int = 0
    avoided: int = 0
    runs: dict[str, int] = field(default_factory=lambda: {"push": 0, "pull_request": 0})


def simulate(history: History, *, pull_requests: bool = False, strategies: list[Strategy] | None = None) -> dict[str, Any]:
    results = [_replay(history, strategy, pull_requests) for strategy in (strategies or STRATEGIES)]
    return {
        "commits": len(history.runs),
        "first": history.runs[0].commit if history.runs else None,
        "last": history.runs[-1].commit if history.runs else None,
        "go_file_changes": history.sum_file_changes,
        "pull_requests": pull_requests,
        "strategies": results,
    }


def _replay(history: History, strategy: Strategy, pull_requests: bool) -> dict[str, Any]:
    service = CacheService()
    tally = _Tally()
    contents: list[frozenset[str]] = [frozenset()]
    union_cache: dict[tuple[int, int], int] = {}
    missing_cache: dict[tuple[int, int], int] = {}
    number = 0
    for run in history.runs:
        events = [("pull_request", f"refs/pull/{run.position}/merge")] if pull_requests and run.position > 0 else []
        events.append(("push", DEFAULT_REF))
        for event, ref in events:
            number += 1
            refs = [ref] if ref == DEFAULT_REF else [ref, DEFAULT_REF]
            module_spec, build_spec = strategy.plan(run, event, number)
            tally.runs[event] += 1
            if not module_spec.key:
                hit, entry = "miss", None
            else:
                hit, entry = service.restore(module_spec.key, module_spec.restore_keys, refs)
            tally.mod[hit] += 1
            restored = entry.content if entry else 0
            cost_key = (run.needed, restored)
            missing = missing_cache.get(cost_key)
            if missing is None:
                missing = missing_cache[cost_key] = len(history.needed_sets[run.needed] - contents[restored])
            tally.downloads += missing
            tally.avoided += len(history.needed_sets[run.needed]) - missing
            content = union_cache.get(cost_key)
            if content is None:
                content = len(contents)
                contents.append(contents[restored] | history.needed_sets[run.needed])
                union_cache[cost_key] = content
            if build_spec is None:
                tally.build[hit] += 1
                if entry is not None:
                    tally.staleness.append(run.position - entry.position)
            else:
                build_hit, build_entry = service.restore(build_spec.key, build_spec.restore_keys, refs)
                tally.build[build_hit] += 1
                if build_entry is not None:
                    tally.staleness.append(run.position - build_entry.position)
            # Saving on a miss only: actions/cache and setup-go skip the save after an exact hit.
            if module_spec.key and module_spec.save and hit != "exact":
                if service.save(ref, module_spec.key, run.position, content):
                    tally.saves[event] += 1
            if build_spec is not None and build_spec.save and build_hit != "exact":
                if service.save(ref, build_spec.key, run.position, 0):
                    tally.saves[event] += 1
    runs = tally.runs["push"] + tally.runs["pull_request"]
    return {
        "name": strategy.name,
        "description": strategy.description,
        "runs": runs,
        "pull_request_runs": tally.runs["pull_request"],
        "mod": tally.mod,
        "build": {**tally.build, "staleness": _staleness(tally.staleness)},
        "saves": tally.saves["push"] + tally.saves["pull_request"],
        "pull_request_saves": tally.saves["pull_request"],
        "module_downloads": tally.downloads,
        "module_downloads_avoided": tally.avoided,
    }


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


def render_table(result: dict[str, Any]) -> str:
    header = ["strategy", "runs", "mod exact/partial/miss", "build exact/partial/miss",
              "build stale (median/p90/max)", "saves", "downloads", "avoided"]
    rows = [header]
    for strategy in result["strategies"]:
        mod, build, stale = strategy["mod"], strategy["build"], strategy["build"]["staleness"]
        stale_text = "-" if stale["restores"] == 0 else f"{_number(stale['median'])}/{stale['p90']}/{stale['max']}"
        rows.append([
            strategy["name"],
            str(strategy["runs"]),
            f"{mod['exact']}/{mod['partial']}/{mod['miss']}",
            f"{build['exact']}/{build['partial']}/{build['miss']}",
            stale_text,
            str(strategy["saves"]),
            str(strategy["module_downloads"]),
            str(strategy["module_downloads_avoided"]),
        ])
    widths = [max(len(row[column]) for row in rows) for column in range(len(header))]
    lines = [
        f"Replayed {result['commits']} commits ({result['go_file_changes']} changed go.sum/go.mod/go.work)"
        + (", each also as a pull request" if result["pull_requests"] else "")
    ]
    for index, row in enumerate(rows):
        cells = [cell.ljust(widths[column]) if column == 0 else cell.rjust(widths[column]) for column, cell in enumerate(row)]
        lines.append("  ".join(cells).rstrip())
        if index == 0:
            lines.append("  ".join("-" * width for width in widths))
    lines.append("Staleness: commits between the run and the run that saved the build cache it restored.")
    return "\n".join(lines)


def _number(value: float | int | None) -> str:
    if value is None:
        return "-"
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"
