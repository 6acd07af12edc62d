"""What the caching buys on real Go builds: no cache, setup-go's default, the actions/cache README
recipe and ci-gocache, side by side over one scripted history. Run by hand, never by the tests:

    python bench/cache_benchmark.py --commits 5 --modules light --results bench/work/smoke   # smoke
    python bench/cache_benchmark.py                                                          # full

The fixture is the Go program in bench/fixture/ (module example.com/benchapp). Its history is
written into a git repository under bench/work/ (git-ignored): an initial commit, source-only
changes, one dependency bump, one new dependency and one Go version change (go 1.25 -> 1.26,
each run on the toolchain the go line names; the Go 1.25 toolchain comes from the Go module
proxy's golang.org/toolchain module, outside every cache, as setup-go installs it).

Every commit is one simulated CI run (a push to main) for every strategy, the strategies in an
order shuffled per commit (seeded: `--seed`), and the whole history is replayed `--repeat` times
from empty cache stores; every ratio is reported as the median and range over the repetitions.
After the history, each repetition runs one pull request (a source change on top of the last
commit) that restores and saves nothing. A run starts from empty
GOMODCACHE and GOCACHE (a fresh runner), restores, runs `go mod download`, `go build ./...` and
`go test ./...`, then saves. The cache service is tests/support/cachestore.py (keys matched as
actions/cache matches them) with zstd (or gzip) tarballs made by tar, as actions/cache makes them.
ci-gocache runs as `ci-gocache patch --style action` emits it: the inputs are read from the
patched workflow and the action's own phases (ci_gocache.action.runtime, with trimming from
ci_gocache.action.trim) run around the cache store, as action.yml and save/action.yml order them.

The cache service is a local folder; what a real one adds (a latency per lookup, a fixed cost
per save, download and upload bandwidth) is modelled from the bytes and requests each run made
(`--lookup-seconds`, `--save-fixed-seconds`, `--download-mbps`, `--upload-mbps`; defaults from
real actions/cache log lines, see SERVICE_MODEL) and added to the measured restore and save
times; the results show how they move when those parameters are halved or doubled. CPU time per
phase comes from rusage, and `--drop-caches` empties the page cache before each timed restore
where the kernel allows it.

Output: <results>/cache_benchmark.{json,md,svg} and <results>/event_costs.json (per-event seconds
for `ci-gocache simulate --costs`). The JSON records the machine's load.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import importlib.util
import json
import math
import os
import platform
import random
import resource
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
FIXTURE = BENCH / "fixture"
sys.path.insert(0, str(REPO / "src"))

from ci_gocache import keys  # noqa: E402
from ci_gocache.action import summary as action_summary  # noqa: E402
from ci_gocache.action import trim  # noqa: E402


def _load_by_path(name: str, path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"{path}: cannot be imported")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


cachestore = _load_by_path("bench_cachestore", REPO / "tests" / "support" / "cachestore.py")

MODULE_PATH = "example.com/benchapp"
# Feature packages of the fixture and the modules each needs (versions pinned for the history).
FEATURE_MODULES = {
    "kube": ["k8s.io/client-go@v0.35.4", "k8s.io/api@v0.35.4", "k8s.io/apimachinery@v0.35.4"],
    "metrics": ["github.com/prometheus/client_golang@v1.23.2"],
    "lint": ["golang.org/x/tools@v0.45.0"],
}
MODULE_SETS = {
    "heavy": ["kube", "metrics", "lint"],
    "light": ["metrics", "lint"],
}
DEPENDENCY_BUMP = ("github.com/prometheus/client_golang", "v1.23.2", "v1.24.1")
NEW_DEPENDENCY = ("github.com/spf13/cobra", "v1.10.2")
OLD_GO_LINE, NEW_GO_LINE = "1.25.0", "1.26.0"
DEFAULT_PROXY = "https://proxy.golang.org,direct"
STRATEGY_NAMES = ["no-cache", "setup-go", "setup-go-go.sum", "actions-cache-readme", "ci-gocache", "ci-gocache-save-every-change"]
# The strategies `ci-gocache simulate` knows: the others stay out of event_costs.json.
SIMULATED_STRATEGIES = ("setup-go", "setup-go-go.sum", "actions-cache-readme", "ci-gocache")
# What a real cache service adds to a local folder. The bandwidths are those actions/cache prints
# in real job logs ("Received 18558184 of 18558184 (100.0%), 81.6 MBs/sec" in actions/cache#471;
# 43.0 and 39.1 MBs/sec for 30-360 MB caches in actions/toolkit#538); uploads are taken at half
# that. A lookup and a save's reserve/commit requests are a round trip each to the service.
SERVICE_MODEL = {"lookup_seconds": 0.5, "save_fixed_seconds": 1.5, "download_mbps": 60.0, "upload_mbps": 30.0}
# What `simulate --costs` calls each kind of run (bench commit kind -> event kind).
EVENT_OF_KIND = {
    "source": "source_only_push",
    "dependency-bump": "dependency_bump",
    "new-dependency": "new_dependency",
    "go-version": "go_version_change",
    "pull-request": "pull_request",
}
FAKE_ACTION_REF = "0" * 40
HISTORY_FORMAT = 1  # raise when plan_history or build_history change what they write

WORKFLOW = """\
name: CI
on:
  push:
    branches: [main]
  pull_request:
permissions:
  contents: read
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
        with:
          persist-credentials: false
      - uses: actions/setup-go@v5
        with:
          go-version-file: go.mod
      - run: go mod download
      - run: go build ./...
      - run: go test ./...
"""

CLI_MAIN = """\
// Command benchapp runs every feature compiled into it and prints their reports.
// features.go (written by bench/cache_benchmark.py) imports the feature packages.
package main

import (
	"fmt"
	"os"

	"example.com/benchapp/internal/cli"
)

func main() {
	if err := cli.Root().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
"""


# ---------------------------------------------------------------- small helpers


def log(message: str) -> None:
    stamp = datetime.datetime.now().strftime("%H:%M:%S")
    print(f"[{stamp}] {message}", flush=True)


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def drop_page_cache() -> bool:
    """Empty the kernel's page cache (root, and a /proc/sys the sandbox lets us write)."""
    try:
        os.sync()
        with open("/proc/sys/vm/drop_caches", "w") as handle:
            handle.write("1\n")
        return True
    except OSError:
        return False


def run(command: list[str], cwd: Path, env: dict[str, str], what: str) -> float:
    """Run a command, return its wall seconds; on failure show its output and stop."""
    started = time.monotonic()
    completed = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    seconds = time.monotonic() - started
    if completed.returncode != 0:
        raise SystemExit(
            f"{what} failed (exit {completed.returncode}) in {cwd}:\n$ {' '.join(command)}\n"
            f"{completed.stdout[-4000:]}\n{completed.stderr[-4000:]}"
        )
    return seconds


def output_of(command: list[str], cwd: Path, env: dict[str, str]) -> str:
    completed = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise SystemExit(f"$ {' '.join(command)} failed:\n{completed.stderr[-4000:]}")
    return completed.stdout


def remove_tree(path: Path) -> None:
    """rm -rf, also through the module cache's read-only directories."""
    if not path.exists():
        return
    subprocess.run(["chmod", "-R", "u+w", str(path)], check=False, capture_output=True)
    shutil.rmtree(path)


def dir_bytes(path: Path) -> int:
    return trim.directory_size(str(path))[1]


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else ""


def base_go_env(toolchain_bin: Path, proxy: str, gomodcache: Path, gocache: Path, gopath: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("GO", "CGO_", "CI_GOCACHE_", "GITHUB_", "RUNNER_"))
    }
    env.update(
        PATH=f"{toolchain_bin}{os.pathsep}{env.get('PATH', '')}",
        GOTOOLCHAIN="local",
        GOENV="off",
        GOTELEMETRY="off",
        GOPROXY=proxy,
        GOPATH=str(gopath),
        GOMODCACHE=str(gomodcache),
        GOCACHE=str(gocache),
        # The workspace sits inside this repository's git tree; CI checkouts are stamped with
        # their own VCS data, which this benchmark leaves out for every strategy alike.
        GOFLAGS="-buildvcs=false",
    )
    return env


# ---------------------------------------------------------------- toolchains


@dataclass(frozen=True)
class Toolchains:
    """The Go toolchain for each go line of the history (setup-go with go-version-file)."""

    by_go_line: dict[str, Path]
    versions: dict[str, str]


def ensure_toolchains(work: Path, old_go: str, new_go: str, proxy: str) -> Toolchains:
    by_line: dict[str, Path] = {}
    versions: dict[str, str] = {}
    for line, wanted in ((OLD_GO_LINE, old_go), (NEW_GO_LINE, new_go)):
        if wanted == "local":
            goroot = output_of(["go", "env", "GOROOT"], work, dict(os.environ, GOTOOLCHAIN="local")).strip()
            bin_dir = Path(goroot) / "bin"
        else:
            store = work / "toolchains"
            env = dict(os.environ, GOMODCACHE=str(store), GOTOOLCHAIN="local", GOFLAGS="-mod=mod", GOPROXY=proxy)
            arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
            version = f"golang.org/toolchain@v0.0.1-{wanted}.linux-{arch}"
            info = json.loads(output_of(["go", "mod", "download", "-json", version], work, env))
            bin_dir = Path(info["Dir"]) / "bin"
            # Module zips carry no file modes: mark the programs executable, as go's own
            # toolchain switch does after the same download.
            for program in [*bin_dir.iterdir(), *(Path(info["Dir"]) / "pkg" / "tool").glob("*/*")]:
                if program.is_file():
                    program.chmod(0o755)
        env = dict(os.environ, GOTOOLCHAIN="local", PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
        actual = output_of([str(bin_dir / "go"), "env", "GOVERSION"], work, env).strip()
        if not actual.startswith(f"go{line.rsplit('.', 1)[0]}"):
            raise SystemExit(f"go line {line} needs a Go {line.rsplit('.', 1)[0]} toolchain, {bin_dir} is {actual}")
        by_line[line] = bin_dir
        versions[line] = actual
    return Toolchains(by_line, versions)


def go_line(workspace: Path) -> str:
    for raw in (workspace / "go.mod").read_text().splitlines():
        if raw.startswith("go "):
            return raw.split()[1]
    raise SystemExit(f"{workspace}/go.mod has no go line")


# ---------------------------------------------------------------- the scripted history


@dataclass(frozen=True)
class CommitPlan:
    kind: str  # initial | source | dependency-bump | new-dependency | go-version
    detail: str


def plan_history(commits: int, features: list[str]) -> list[CommitPlan]:
    """Mostly source-only changes; one bump, one new dependency, one Go version change."""
    special: dict[int, CommitPlan] = {}
    bump = max(2, round(commits * 0.35))
    new = bump + max(1, round(commits * 0.2))
    go = new + max(1, round(commits * 0.2))
    module, old, newer = DEPENDENCY_BUMP
    for position, plan in (
        (bump, CommitPlan("dependency-bump", f"{module} {old} -> {newer}")),
        (new, CommitPlan("new-dependency", f"{NEW_DEPENDENCY[0]} {NEW_DEPENDENCY[1]}")),
        (go, CommitPlan("go-version", f"go {OLD_GO_LINE} -> {NEW_GO_LINE}")),
    ):
        if position < commits:
            special[position] = plan
    edited = ["core", *features, "cmd"]
    plans = [CommitPlan("initial", "fixture with " + ", ".join(features))]
    source_count = 0
    for position in range(1, commits):
        if position in special:
            plans.append(special[position])
        else:
            plans.append(CommitPlan("source", edited[source_count % len(edited)]))
            source_count += 1
    return plans


def _features_go(features: list[str]) -> str:
    imports = "".join(f'\t_ "{MODULE_PATH}/internal/{name}"\n' for name in features)
    return f"package main\n\n// The feature packages of this build (see bench/cache_benchmark.py).\nimport (\n{imports})\n"


def _source_change(checkout: Path, package: str, number: int) -> None:
    if package == "core":
        path = checkout / "internal/core/core.go"
        text = path.read_text()
        start = text.index("const Revision = ")
        end = text.index("\n", start)
        path.write_text(text[:start] + f"const Revision = {number}" + text[end:])
        return
    directory = checkout / ("cmd/benchapp" if package == "cmd" else f"internal/{package}")
    package_name = "main" if package == "cmd" else package
    path = directory / "changes.go"
    text = path.read_text() if path.exists() else f"package {package_name}\n"
    text += (
        f"\n// Change{number} is edit {number} of the scripted history.\n"
        f"func Change{number}(values []int) int {{\n"
        f"\ttotal := {number}\n\tfor _, value := range values {{\n\t\ttotal += value * {number % 7 + 1}\n\t}}\n"
        f"\treturn total\n}}\n"
    )
    path.write_text(text)


def history_spec(commits: int, module_set: str) -> dict[str, Any]:
    fixture_digest = hashlib.sha256()
    for path in sorted(FIXTURE.rglob("*")):
        if path.is_file():
            fixture_digest.update(path.relative_to(FIXTURE).as_posix().encode())
            fixture_digest.update(path.read_bytes())
    return {
        "commits": commits,
        "module_set": module_set,
        "features": FEATURE_MODULES,
        "bump": DEPENDENCY_BUMP,
        "new": NEW_DEPENDENCY,
        "go": [OLD_GO_LINE, NEW_GO_LINE],
        "fixture": fixture_digest.hexdigest(),
        "format": HISTORY_FORMAT,
    }


def build_history(work: Path, commits: int, module_set: str, toolchains: Toolchains, proxy: str) -> tuple[Path, list[dict[str, Any]]]:
    """A git repository holding the scripted history; reused when the spec is unchanged."""
    spec = history_spec(commits, module_set)
    spec_id = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:12]
    root = work / f"history-{module_set}-{commits}-{spec_id}"
    manifest = root.with_suffix(".json")
    if manifest.exists() and (root / ".git").exists():
        return root, json.loads(manifest.read_text())
    remove_tree(root)
    root.mkdir(parents=True)
    features = MODULE_SETS[module_set]
    gen_cache = work / "generate"
    git_env = dict(
        os.environ,
        GIT_AUTHOR_NAME="bench", GIT_AUTHOR_EMAIL="bench@example.com",
        GIT_COMMITTER_NAME="bench", GIT_COMMITTER_EMAIL="bench@example.com",
    )
    run(["git", "init", "-q", "-b", "main"], root, git_env, "git init")

    def go_env() -> dict[str, str]:
        line = go_line(root)
        return base_go_env(toolchains.by_go_line[line], proxy, gen_cache / "mod", gen_cache / "build", gen_cache / "path")

    records: list[dict[str, Any]] = []
    for number, plan in enumerate(plan_history(commits, features), start=1):
        if plan.kind == "initial":
            for relative in ["cmd/benchapp/main.go", "cmd/benchapp/main_test.go", "internal/core/core.go", "internal/core/core_test.go"]:
                (root / relative).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(FIXTURE / relative, root / relative)
            for feature in features:
                shutil.copytree(FIXTURE / "internal" / feature, root / "internal" / feature)
            (root / "cmd/benchapp/features.go").write_text(_features_go(features))
            (root / ".github/workflows").mkdir(parents=True)
            (root / ".github/workflows/ci.yml").write_text(WORKFLOW)
            requires = [spec for feature in features for spec in FEATURE_MODULES[feature]]
            require_lines = "".join(f"\t{spec.replace('@', ' ')}\n" for spec in requires)
            (root / "go.mod").write_text(f"module {MODULE_PATH}\n\ngo {OLD_GO_LINE}\n\nrequire (\n{require_lines})\n")
            run(["go", "mod", "tidy"], root, go_env(), "go mod tidy")
        elif plan.kind == "source":
            _source_change(root, plan.detail, number)
        elif plan.kind == "dependency-bump":
            module, _, newer = DEPENDENCY_BUMP
            run(["go", "get", f"{module}@{newer}"], root, go_env(), "go get (bump)")
            run(["go", "mod", "tidy"], root, go_env(), "go mod tidy")
        elif plan.kind == "new-dependency":
            shutil.copytree(FIXTURE / "internal/cli", root / "internal/cli")
            (root / "cmd/benchapp/main.go").write_text(CLI_MAIN)
            run(["go", "get", f"{NEW_DEPENDENCY[0]}@{NEW_DEPENDENCY[1]}"], root, go_env(), "go get (new)")
            run(["go", "mod", "tidy"], root, go_env(), "go mod tidy")
        elif plan.kind == "go-version":
            run(["go", "mod", "edit", f"-go={NEW_GO_LINE}"], root, go_env(), "go mod edit -go")
            run(["go", "mod", "tidy"], root, go_env(), "go mod tidy")
        run(["gofmt", "-l", "-w", "."], root, go_env(), "gofmt")
        run(["git", "add", "-A"], root, git_env, "git add")
        run(["git", "commit", "-q", "-m", f"{plan.kind}: {plan.detail}"], root, git_env, "git commit")
        commit = output_of(["git", "rev-parse", "HEAD"], root, git_env).strip()
        go_sum_lines = len((root / "go.sum").read_text().splitlines())
        records.append({"number": number, "commit": commit, "kind": plan.kind, "detail": plan.detail,
                        "go_line": go_line(root), "go_sum_lines": go_sum_lines})
        log(f"history {number}/{commits}: {plan.kind} {plan.detail}")
    manifest.write_text(json.dumps(records, indent=1))
    return root, records


def setup_go_v5_hits_as_v7(history: Path, commits: list[dict[str, Any]]) -> bool:
    """Whether setup-go's go.sum key (v4-v6.2) changes on exactly the commits where its go.mod key (v7)
    does: both hold the Go version, so compare (go line, go.mod blob) with (go line, go.sum blob)."""
    def blob(commit: str, name: str) -> str:
        completed = subprocess.run(["git", "-C", str(history), "rev-parse", f"{commit}:{name}"], capture_output=True, text=True, check=False)
        return completed.stdout.strip() if completed.returncode == 0 else ""

    v7 = [(commit["go_line"], blob(commit["commit"], "go.mod")) for commit in commits]
    v5 = [(commit["go_line"], blob(commit["commit"], "go.sum")) for commit in commits]
    return all((v7[i] == v7[j]) == (v5[i] == v5[j]) for i in range(len(commits)) for j in range(i))


def checkout(history: Path, commit: str, workspace: Path) -> None:
    remove_tree(workspace)
    workspace.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(history), "archive", commit], capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(workspace)], input=archive, check=True)


# ---------------------------------------------------------------- the cache service


class CompressedStore(cachestore.CacheStore):
    """tests/support/cachestore.py's store (its key matching, index and refusals) with the
    archives actions/cache writes: tar --posix through zstd --long=30 (or gzip), -P from /."""

    def __init__(self, directory: Path, compression: str) -> None:
        super().__init__(directory)
        self.compression = compression
        self.last_bytes = 0
        self.last_seconds = 0.0

    def _program(self, decompress: bool) -> str:
        if self.compression == "zstd":
            return "zstd -d --long=30" if decompress else "zstd -T0 --long=30"
        return "gzip -d" if decompress else "gzip"

    def restore(self, with_inputs: dict[str, str]) -> dict[str, str]:
        paths = cachestore.input_lines(with_inputs["path"])
        key = with_inputs["key"].strip()
        restore_keys = cachestore.input_lines(with_inputs.get("restore-keys", ""))
        outputs = {"cache-primary-key": key}
        self.last_bytes, self.last_seconds = 0, 0.0
        entry = self.find(paths, key, restore_keys)
        if entry is None:
            return outputs
        started = time.monotonic()
        subprocess.run(
            ["tar", "-xf", entry.archive, "-P", "-C", "/", "--use-compress-program", self._program(True)],
            check=True,
        )
        self.last_seconds = time.monotonic() - started
        self.last_bytes = entry.size
        outputs["cache-hit"] = "true" if entry.key == key else "false"
        outputs["cache-matched-key"] = entry.key
        return outputs

    def save(self, with_inputs: dict[str, str]) -> dict[str, str]:
        paths = cachestore.input_lines(with_inputs["path"])
        key = with_inputs["key"].strip()
        version = cachestore.cache_version(paths)
        entries = self.entries()
        self.last_bytes, self.last_seconds = 0, 0.0
        if any(entry.key == key and entry.version == version for entry in entries):
            return {}  # actions/cache: "Unable to reserve cache", a warning
        existing = [path for path in paths if Path(path).exists()]
        if not existing:
            return {}
        created = max((entry.created for entry in entries), default=0) + 1
        suffix = ".tar.zst" if self.compression == "zstd" else ".tar.gz"
        archive = self.directory / f"{created:05d}{suffix}"
        started = time.monotonic()
        subprocess.run(
            ["tar", "--posix", "-cf", str(archive), "-P", "-C", "/", "--use-compress-program", self._program(False),
             *[path.lstrip("/") for path in existing]],
            check=True,
        )
        self.last_seconds = time.monotonic() - started
        self.last_bytes = archive.stat().st_size
        entry = cachestore.StoredCache(key, version, created, str(archive), self.last_bytes)
        self._write_index([*entries, entry])
        return {}

    def total_bytes(self) -> int:
        return sum(entry.size for entry in self.entries())


# ---------------------------------------------------------------- strategies


@dataclass
class Job:
    """One CI run of one strategy: its directories, environment and measurements."""

    number: int
    commit: dict[str, Any]
    workspace: Path
    gomodcache: Path
    gocache: Path
    env: dict[str, str]
    record: dict[str, Any] = field(default_factory=dict)
    event: str = "push"  # push (to main) | pull_request


class NoCache:
    name = "no-cache"
    description = "no cache: every run downloads every module and builds from scratch"

    def __init__(self, root: Path, compression: str) -> None:
        self.store: CompressedStore | None = None

    def restore(self, job: Job) -> None:
        job.record.update(restore_seconds=0.0, restored_bytes=0, hits={}, lookups=0)

    def save(self, job: Job) -> None:
        job.record.update(save_seconds=0.0, saved_bytes=0, saved_build_cache_bytes=None, save_requests=0)


class OneEntryStrategy:
    """Modules and build cache in one entry (setup-go's default and the README recipe)."""

    name = ""
    description = ""

    def __init__(self, root: Path, compression: str) -> None:
        self.store = CompressedStore(root / "store", compression)
        self.restored: dict[str, str] = {}

    def key(self, job: Job) -> tuple[str, list[str]]:
        raise NotImplementedError

    def paths(self, job: Job) -> list[str]:
        return [str(job.gomodcache), str(job.gocache)]

    def restore(self, job: Job) -> None:
        started = time.monotonic()
        key, restore_keys = self.key(job)
        self.restored = self.store.restore(
            {"path": "\n".join(self.paths(job)), "key": key, "restore-keys": "\n".join(restore_keys)}
        )
        hit = "miss" if "cache-matched-key" not in self.restored else ("exact" if self.restored["cache-hit"] == "true" else "partial")
        job.record.update(
            restore_seconds=time.monotonic() - started,
            restored_bytes=self.store.last_bytes,
            hits={"both": hit},
            keys={"both": key},
            lookups=1,
        )

    def save(self, job: Job) -> None:
        saved_bytes = 0
        build_bytes = None
        requests = 0
        # Both post steps save unless the primary key hit exactly; an existing key is refused.
        # (A pull request's save lands in the pull request's own scope, as actions/cache does it.)
        started = time.monotonic()
        if self.restored.get("cache-hit") != "true":
            measured = dir_bytes(job.gocache)  # measured outside the timed save
            started = time.monotonic()
            self.store.save({"path": "\n".join(self.paths(job)), "key": self.restored["cache-primary-key"]})
            requests = 1
            saved_bytes = self.store.last_bytes
            build_bytes = measured if saved_bytes else None
        job.record.update(
            save_seconds=time.monotonic() - started if saved_bytes else 0.0,
            saved_bytes=saved_bytes,
            saved_build_cache_bytes=build_bytes,
            save_requests=requests,
        )


class SetupGoDefault(OneEntryStrategy):
    name = "setup-go"
    description = (
        "actions/setup-go v6.3+ and v7 default (cache: true): GOMODCACHE and GOCACHE in one entry, key "
        "setup-go-<os>-<arch>-<image>-go-<go version>-<hashFiles(go.mod)>, no restore-keys, saved only on a miss"
    )
    key_file = "go.mod"

    def key(self, job: Job) -> tuple[str, list[str]]:
        digest = keys.digest_files(job.workspace, [self.key_file])
        version = job.record["go_version"].removeprefix("go")
        return f"setup-go-Linux-x64-ubuntu24-go-{version}-{digest}", []


class SetupGoSumKeyed(SetupGoDefault):
    name = "setup-go-go.sum"
    description = (
        "actions/setup-go v4-v6.2 default (cache: true): as v7, but the key hashes go.sum instead of go.mod"
    )
    key_file = "go.sum"


class ActionsCacheReadme(OneEntryStrategy):
    name = "actions-cache-readme"
    description = (
        "actions/cache README recipe for Go: ~/.cache/go-build and ~/go/pkg/mod in one entry, key "
        "<os>-go-<hashFiles('**/go.sum')>, restore-keys <os>-go-, saved by the post step unless the key hit exactly"
    )

    def key(self, job: Job) -> tuple[str, list[str]]:
        digest = keys.digest_files(job.workspace, keys.expand_sum_globs(job.workspace, ["**/go.sum"]))
        return f"Linux-go-{digest}", ["Linux-go-"]

    def paths(self, job: Job) -> list[str]:
        return [str(job.gocache), str(job.gomodcache)]


def read_file_commands(path: Path) -> dict[str, str]:
    """GITHUB_OUTPUT / GITHUB_ENV lines: name=value and name<<DELIMITER heredocs."""
    values: dict[str, str] = {}
    if not path.exists():
        return values
    lines = path.read_text().splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            body: list[str] = []
            index += 1
            while index < len(lines) and lines[index] != delimiter:
                body.append(lines[index])
                index += 1
            values[name] = "\n".join(body)
        elif "=" in line:
            name, value = line.split("=", 1)
            values[name] = value
        index += 1
    return values


def patched_action_inputs(history: Path, first_commit: str, work: Path) -> dict[str, Any]:
    """Run `ci-gocache patch --style action` on the fixture's workflow; the inputs it wrote."""
    from ruamel.yaml import YAML

    from ci_gocache.patching import RepoCache, discover, patch_file
    from ci_gocache.targets.base import PatchOptions

    scratch = work / "patched-workflow"
    checkout(history, first_commit, scratch)
    options = PatchOptions(style="action", action_ref=FAKE_ACTION_REF, action_version="v1")
    workflow = scratch / ".github/workflows/ci.yml"
    results = [patch_file(candidate, options, RepoCache(), True) for candidate in discover([str(workflow)], [])]
    if not results or results[0].status != "changed":
        raise SystemExit(f"ci-gocache patch did not change {workflow}: {[r.as_json() for r in results]}")
    document = YAML(typ="safe").load(workflow.read_text())
    steps = document["jobs"]["test"]["steps"]
    restore = [step for step in steps if str(step.get("uses", "")).startswith(f"ci-gocache/ci-gocache@{FAKE_ACTION_REF}")]
    save = [step for step in steps if str(step.get("uses", "")).startswith(f"ci-gocache/ci-gocache/save@{FAKE_ACTION_REF}")]
    if len(restore) != 1 or len(save) != 1:
        raise SystemExit(f"the patched workflow has no ci-gocache restore/save pair:\n{workflow.read_text()}")
    uses = [str(step.get("uses") or step.get("run", "")).split("@")[0] for step in steps]
    return {"inputs": restore[0].get("with") or {}, "steps": uses, "workflow": workflow.read_text()}


class CiGocache:
    name = "ci-gocache"
    description = (
        "ci-gocache patch --style action: the ci-gocache action restores GOMODCACHE (key on the go.sum digest, "
        "prefix restore key, saved on a miss) and GOCACHE (key per Go version, job and run, two restore keys, "
        "back-dated after restore, trimmed to what the job used and saved on a push to main unless it changed by less than "
        "build-save-min-change, 5% of the restored entries by default)"
    )

    def __init__(self, root: Path, compression: str, action_inputs: dict[str, Any]) -> None:
        self.store = CompressedStore(root / "store", compression)
        self.root = root
        self.inputs = action_inputs
        self.env: dict[str, str] = {}
        self.outputs: dict[str, str] = {}
        self.log: list[str] = []
        self.phase_seconds: dict[str, float] = {}

    def _input_env(self) -> dict[str, str]:
        def text(value: Any) -> str:
            return "\n".join(str(item) for item in value) if isinstance(value, list) else str(value)

        names = {
            "modules": "CI_GOCACHE_MODULES", "key-prefix": "CI_GOCACHE_KEY_PREFIX", "build-cache": "CI_GOCACHE_BUILD_CACHE",
            "save": "CI_GOCACHE_SAVE", "trim": "CI_GOCACHE_TRIM", "extra-key-parts": "CI_GOCACHE_EXTRA_KEY_PARTS",
            "build-save-min-change": "CI_GOCACHE_BUILD_SAVE_MIN_CHANGE",
        }
        env = {variable: text(self.inputs[name]) for name, variable in names.items() if name in self.inputs}
        if any("${{" in value for value in env.values()):
            raise SystemExit(f"the patched inputs hold expressions this benchmark cannot evaluate: {env}")
        return env

    def _phase(self, phase: str) -> dict[str, str]:
        runner_temp = Path(self.env["RUNNER_TEMP"])
        output_file = runner_temp / f"output-{phase}"
        env_file = runner_temp / f"env-{phase}"
        env = dict(self.env, GITHUB_OUTPUT=str(output_file), GITHUB_ENV=str(env_file))
        # As action.yml runs it: isolated, the action's src/ first on sys.path.
        command = [
            sys.executable, "-I", "-S", "-c",
            "import sys; sys.path.insert(0, sys.argv[1]); from ci_gocache.action.runtime import main; sys.exit(main(sys.argv[2:]))",
            str(REPO / "src"), phase,
        ]
        started = time.monotonic()
        completed = subprocess.run(command, cwd=self.env["GITHUB_WORKSPACE"], env=env, capture_output=True, text=True, check=False)
        self.phase_seconds[phase] = round(time.monotonic() - started, 3)
        if completed.returncode != 0 or "::error" in completed.stdout:
            raise SystemExit(f"action phase {phase} failed:\n{completed.stdout}\n{completed.stderr}")
        self.env.update(read_file_commands(env_file))
        self.log.append(completed.stdout)
        return read_file_commands(output_file)

    def restore(self, job: Job) -> None:
        runner_temp = self.root / "runner-temp"
        remove_tree(runner_temp)
        runner_temp.mkdir(parents=True)
        event = runner_temp / "event.json"
        event.write_text(json.dumps({"repository": {"default_branch": "main"}}))
        self.log: list[str] = []
        self.phase_seconds: dict[str, float] = {}
        self.env = dict(
            job.env,
            **self._input_env(),
            PYTHONPATH=str(REPO / "src"),
            GITHUB_WORKSPACE=str(job.workspace), GITHUB_JOB="test", GITHUB_WORKFLOW="CI",
            GITHUB_RUN_ID=str(1000 + job.number), GITHUB_RUN_ATTEMPT="1",
            GITHUB_EVENT_NAME=job.event,
            GITHUB_REF="refs/heads/main" if job.event == "push" else "refs/pull/1/merge",
            GITHUB_EVENT_PATH=str(event),
            GITHUB_STEP_SUMMARY=str(runner_temp / "summary.md"),
            RUNNER_OS="Linux", RUNNER_ARCH="X64", RUNNER_TEMP=str(runner_temp),
        )
        started = time.monotonic()
        keys_out = self._phase("keys")
        self.outputs = keys_out
        module = self.store.restore(
            {"path": keys_out["module-cache-dir"], "key": keys_out["module-key"], "restore-keys": keys_out["module-restore-keys"]}
        )
        lookups = 1
        restored_bytes = self.store.last_bytes
        # Each restore on its own (extraction seconds, bytes): what one step restoring both at once would overlap.
        parts = {"module": {"seconds": round(self.store.last_seconds, 3), "bytes": self.store.last_bytes}}
        self.env["CI_GOCACHE_MODULE_RESTORED_AT"] = f"{time.time():.6f}"
        build: dict[str, str] = {}
        if keys_out.get("build-cache") == "true":
            build = self.store.restore(
                {"path": keys_out["build-cache-dir"], "key": keys_out["build-key"], "restore-keys": keys_out["build-restore-keys"]}
            )
            lookups += 1
            restored_bytes += self.store.last_bytes
            parts["build"] = {"seconds": round(self.store.last_seconds, 3), "bytes": self.store.last_bytes}
        self.env["CI_GOCACHE_MODULE_MATCHED_KEY"] = module.get("cache-matched-key", "")
        self.env["CI_GOCACHE_BUILD_MATCHED_KEY"] = build.get("cache-matched-key", "")
        restored = self._phase("restored")
        job.record.update(
            restore_seconds=time.monotonic() - started,
            restored_bytes=restored_bytes,
            hits={"module": restored.get("module-hit", ""), "build": restored.get("build-hit", "")},
            keys={"module": keys_out["module-key"], "build": keys_out.get("build-key", "")},
            lookups=lookups,
            restore_parts=parts,
        )
        if keys_out["module-cache-dir"] != str(job.gomodcache) or keys_out["build-cache-dir"] != str(job.gocache):
            raise SystemExit(f"the action found other cache directories than the job's: {keys_out}")

    def save(self, job: Job) -> None:
        started = time.monotonic()
        self.env["CI_GOCACHE_JOB_STATUS"] = "success"
        prepared = self._phase("prepare-save")
        saved_bytes = 0
        build_bytes = None
        requests = 0
        measuring = 0.0
        module_outcome = build_outcome = "skipped"
        if prepared.get("save-module") == "true":
            self.store.save({"path": prepared["module-cache-dir"], "key": prepared["module-key"]})
            requests += 1
            saved_bytes += self.store.last_bytes
            module_outcome = "success"
            # save/action.yml looks the key up after the save; a refused save stores nothing.
            self.env["CI_GOCACHE_MODULE_SAVED_KEY"] = prepared["module-key"] if self.store.last_bytes else ""
        self.env["CI_GOCACHE_MODULE_SAVED_AT"] = f"{time.time():.6f}"
        if prepared.get("save-build") == "true":
            measure_started = time.monotonic()
            measured = dir_bytes(job.gocache)  # after the trim: what is uploaded (not part of the save's time)
            measuring = time.monotonic() - measure_started
            requests += 1
            self.store.save({"path": prepared["build-cache-dir"], "key": prepared["build-key"]})
            saved_bytes += self.store.last_bytes
            build_bytes = measured if self.store.last_bytes else None
            build_outcome = "success"
            self.env["CI_GOCACHE_BUILD_SAVED_KEY"] = prepared["build-key"] if self.store.last_bytes else ""
        self.env["CI_GOCACHE_MODULE_SAVE_OUTCOME"] = module_outcome
        self.env["CI_GOCACHE_BUILD_SAVE_OUTCOME"] = build_outcome
        reported = self._phase("report")
        build_record = next((json.loads(line.split(" ", 1)[1]) for line in self.log[-1].splitlines()
                             if line.startswith("ci-gocache-record: ") and '"cache":"build"' in line), {})
        job.record.update(
            build_new_entries=build_record.get("new_entries"),
            build_save_reason=build_record.get("save_reason", ""),
            save_seconds=time.monotonic() - started - measuring,
            saved_bytes=saved_bytes,
            saved_build_cache_bytes=build_bytes,
            save_requests=requests,
            trimmed_entries=int(reported.get("trimmed-entries", "0") or 0),
            trimmed_bytes=int(reported.get("trimmed-bytes", "0") or 0),
            saved={"module": reported.get("module-saved"), "build": reported.get("build-saved")},
            action_phase_seconds=dict(self.phase_seconds),
        )


class CiGocacheSaveEveryChange(CiGocache):
    """ci-gocache as before the build-save thinning: every changed build cache is saved."""

    name = "ci-gocache-save-every-change"
    description = CiGocache.description.split(" unless it changed")[0] + " whenever it changed (build-save-min-change: 0)"

    def __init__(self, root: Path, compression: str, action_inputs: dict[str, Any]) -> None:
        super().__init__(root, compression, {**action_inputs, "build-save-min-change": "0"})


# ---------------------------------------------------------------- the runs


def run_job(strategy: Any, root: Path, number: int, commit: dict[str, Any], history: Path,
            toolchains: Toolchains, proxy: str, pull_request: int = 0, drop_caches: bool = False) -> dict[str, Any]:
    """One CI run; `pull_request` > 0 runs a pull request with that source change on top of the commit."""
    workspace, gomodcache, gocache = root / "workspace", root / "gomod", root / "gobuild"
    for directory in (gomodcache, gocache, root / "gopath"):
        remove_tree(directory)  # a fresh runner
    checkout(history, commit["commit"], workspace)
    if pull_request:
        _source_change(workspace, "core", pull_request)
    toolchain = toolchains.by_go_line[go_line(workspace)]
    env = base_go_env(toolchain, proxy, gomodcache, gocache, root / "gopath")
    job = Job(number, commit, workspace, gomodcache, gocache, env, event="pull_request" if pull_request else "push")
    job.record.update(
        run=number, commit=commit["commit"][:12], kind="pull-request" if pull_request else commit["kind"],
        detail=f"source change {pull_request} on top of run {number - 1}" if pull_request else commit["detail"],
        go_version=toolchains.versions[go_line(workspace)], load_before=os.getloadavg()[0],
    )
    job.record["page_cache_dropped"] = drop_page_cache() if drop_caches else False
    cpu = children_cpu_seconds()
    strategy.restore(job)
    cpu_seconds = {"restore": children_cpu_seconds() - cpu}
    cpu = children_cpu_seconds()
    job.record["download_seconds"] = run(["go", "mod", "download"], workspace, env, "go mod download")
    cpu_seconds["download"] = children_cpu_seconds() - cpu
    cpu = children_cpu_seconds()
    job.record["build_seconds"] = run(["go", "build", "./..."], workspace, env, "go build")
    job.record["test_seconds"] = run(["go", "test", "./..."], workspace, env, "go test")
    cpu_seconds["build_test"] = children_cpu_seconds() - cpu
    job.record["build_test_seconds"] = job.record["build_seconds"] + job.record["test_seconds"]
    job.record["gocache_bytes_after_build"] = dir_bytes(gocache)
    job.record["gomodcache_bytes"] = dir_bytes(gomodcache)
    cpu = children_cpu_seconds()
    strategy.save(job)
    cpu_seconds["save"] = children_cpu_seconds() - cpu
    record = job.record
    record["cpu_seconds"] = {phase: round(value, 2) for phase, value in cpu_seconds.items()}
    record["job_seconds"] = record["restore_seconds"] + record["download_seconds"] + record["build_test_seconds"] + record["save_seconds"]
    record["store_bytes"] = strategy.store.total_bytes() if strategy.store else 0
    record["load_after"] = os.getloadavg()[0]
    return record


def make_strategies(names: list[str], work: Path, compression: str, action_inputs: dict[str, Any]) -> list[Any]:
    made = []
    for name in names:
        root = work / "strategies" / name
        remove_tree(root / "store")
        if name == "no-cache":
            made.append(NoCache(root, compression))
        elif name == "setup-go":
            made.append(SetupGoDefault(root, compression))
        elif name == "setup-go-go.sum":
            made.append(SetupGoSumKeyed(root, compression))
        elif name == "actions-cache-readme":
            made.append(ActionsCacheReadme(root, compression))
        elif name == "ci-gocache":
            made.append(CiGocache(root, compression, action_inputs))
        elif name == "ci-gocache-save-every-change":
            made.append(CiGocacheSaveEveryChange(root, compression, action_inputs))
    return made


# ---------------------------------------------------------------- figures and targets


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return round(numerator / denominator, 3)


def summarise(runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    totals: dict[str, dict[str, Any]] = {}
    for name, records in runs.items():
        totals[name] = {
            field_name: round(sum(record[field_name] for record in records), 2)
            for field_name in ("job_seconds", "restore_seconds", "download_seconds", "build_test_seconds", "save_seconds")
        }
        totals[name]["restored_bytes"] = sum(record["restored_bytes"] for record in records)
        totals[name]["saved_bytes"] = sum(record["saved_bytes"] for record in records)
        totals[name]["store_bytes_at_end"] = records[-1]["store_bytes"] if records else 0
        saved_build = [record["saved_build_cache_bytes"] for record in records if record.get("saved_build_cache_bytes")]
        totals[name]["latest_saved_build_cache_bytes"] = saved_build[-1] if saved_build else None
    summary: dict[str, Any] = {"totals": totals, "ratios": {}, "targets": {}}
    for baseline in ("no-cache", "setup-go"):
        if baseline in totals:
            summary["ratios"][f"job_seconds_vs_{baseline}"] = {
                name: _ratio(total["job_seconds"], totals[baseline]["job_seconds"]) for name, total in totals.items()
            }

    # Warm: ci-gocache runs that restored a build cache on a source-only commit, against the
    # cold (no-cache) run of the same commit.
    if "ci-gocache" in runs and "no-cache" in runs:
        cold = {record["run"]: record["job_seconds"] for record in runs["no-cache"]}
        # With --no-cache-runs cold-commits a source-only commit has no no-cache run: the median cold run stands in.
        cold_median = statistics.median(cold.values()) if cold else None
        pairs = [
            (record["run"], record["job_seconds"], cold.get(record["run"], cold_median))
            for record in runs["ci-gocache"]
            if record["kind"] == "source" and record["hits"].get("build") in ("exact", "partial") and cold
        ]
        per_run = [_ratio(warm, cold_seconds) for _, warm, cold_seconds in pairs]
        median_ratio = statistics.median(per_run) if per_run else None
        summary["targets"]["warm_job_vs_cold"] = {
            "target": "<= 0.2",
            "median_ratio": median_ratio,
            "max_ratio": max(per_run) if per_run else None,
            "warm_median_seconds": round(statistics.median([warm for _, warm, _ in pairs]), 2) if pairs else None,
            "cold_median_seconds": round(statistics.median(cold.values()), 2) if cold else None,
            "runs": len(pairs),
            "met": median_ratio is not None and median_ratio <= 0.2,
        }
    if "ci-gocache" in totals and "setup-go" in totals:
        value = _ratio(totals["ci-gocache"]["job_seconds"], totals["setup-go"]["job_seconds"])
        summary["targets"]["total_job_time_vs_setup_go"] = {"target": "<= 0.6", "ratio": value, "met": value is not None and value <= 0.6}
    if "no-cache" in runs and runs["no-cache"]:
        used = runs["no-cache"][-1]["gocache_bytes_after_build"]
        entry: dict[str, Any] = {"target": "<= 1.3 (ci-gocache)", "last_build_used_bytes": used, "by_strategy": {}}
        for name, total in totals.items():
            if name != "no-cache":
                entry["by_strategy"][name] = {
                    "latest_saved_build_cache_bytes": total["latest_saved_build_cache_bytes"],
                    "ratio": _ratio(total["latest_saved_build_cache_bytes"], used),
                }
        ci = entry["by_strategy"].get("ci-gocache", {}).get("ratio")
        entry["met"] = ci is not None and ci <= 1.3
        summary["targets"]["saved_build_cache_vs_last_build_used"] = entry
    return summary


def model_seconds(record: dict[str, Any], model: dict[str, float]) -> float:
    """What a real cache service adds to this run: lookups, save requests and the bytes moved."""
    return (
        record.get("lookups", 0) * model["lookup_seconds"]
        + record.get("save_requests", 0) * model["save_fixed_seconds"]
        + record.get("restored_bytes", 0) / (model["download_mbps"] * 1e6)
        + record.get("saved_bytes", 0) / (model["upload_mbps"] * 1e6)
    )


def modelled_job_seconds(record: dict[str, Any], model: dict[str, float]) -> float:
    return record["job_seconds"] + model_seconds(record, model)


def built_from_scratch(record: dict[str, Any]) -> bool:
    """No cache was restored at all (a cold run)."""
    return all(hit in ("miss", "") for hit in record["hits"].values())


def _spread(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"median": None, "min": None, "max": None}
    return {"median": round(statistics.median(values), 3), "min": round(min(values), 3), "max": round(max(values), 3)}


def scaled_model(model: dict[str, float], factor: float) -> dict[str, float]:
    """The service `factor` times slower: latencies times it, bandwidths divided by it (0: free)."""
    if factor == 0:
        return {"lookup_seconds": 0.0, "save_fixed_seconds": 0.0, "download_mbps": math.inf, "upload_mbps": math.inf}
    return {
        "lookup_seconds": model["lookup_seconds"] * factor,
        "save_fixed_seconds": model["save_fixed_seconds"] * factor,
        "download_mbps": model["download_mbps"] / factor,
        "upload_mbps": model["upload_mbps"] / factor,
    }


def summarise_repetitions(repetitions: list[dict[str, list[dict[str, Any]]]], model: dict[str, float]) -> dict[str, Any]:
    """Every ratio over the repetitions (median and range), raw and cold-paired, the service model's
    sensitivity, and per-event costs against setup-go."""
    names = list(repetitions[0]) if repetitions else []
    scales = {"none": 0.0, "half": 0.5, "default": 1.0, "double": 2.0}
    result: dict[str, Any] = {"model": model, "repetitions": len(repetitions), "ratios_vs_setup_go": {}, "per_event": {}}
    for baseline in ("setup-go", "setup-go-go.sum"):
        if baseline not in names:
            continue
        for name in names:
            if any(name not in runs or len(runs[name]) != len(runs[baseline]) for runs in repetitions):
                continue  # no-cache ran on the cold commits only, or the strategy ran --once
            raw, paired, by_scale = [], [], {scale: [] for scale in scales}
            for runs in repetitions:
                pushes = {key: [r for r in records if r["kind"] != "pull-request"] for key, records in runs.items()}
                cold = {r["run"]: r["job_seconds"] for r in pushes.get("no-cache", [])}

                def paired_total(records: list[dict[str, Any]]) -> float:
                    # A run that built from scratch is charged the no-cache time of the same commit:
                    # the noise of one cold build then falls on every strategy alike.
                    return sum(cold.get(r["run"], r["job_seconds"]) if built_from_scratch(r) else r["job_seconds"] for r in records)

                raw.append(sum(r["job_seconds"] for r in pushes[name]) / sum(r["job_seconds"] for r in pushes[baseline]))
                if cold:
                    paired.append(paired_total(pushes[name]) / paired_total(pushes[baseline]))
                for scale, factor in scales.items():
                    scaled = scaled_model(model, factor)
                    ours = sum(modelled_job_seconds(r, scaled) for r in pushes[name])
                    theirs = sum(modelled_job_seconds(r, scaled) for r in pushes[baseline])
                    by_scale[scale].append(ours / theirs)
            result["ratios_vs_setup_go"].setdefault(baseline, {})[name] = {
                "raw": _spread(raw),
                "cold_paired": _spread(paired),
                "with_service_model": {scale: _spread(values) for scale, values in by_scale.items()},
            }
    # Per-event costs: the median modelled seconds of each kind of run over every repetition.
    for name in names:
        per_kind: dict[str, list[float]] = {}
        for runs in repetitions:
            for record in runs.get(name, []):
                event = EVENT_OF_KIND.get(record["kind"])
                if event:
                    per_kind.setdefault(event, []).append(modelled_job_seconds(record, model))
        result["per_event"][name] = {event: round(statistics.median(values), 2) for event, values in per_kind.items()}
    result["per_event_ratios"] = per_event_ratios(repetitions, model)
    result["thinning"] = thinning_effect(repetitions, model)
    result["concurrent_restore"] = concurrent_restore(repetitions, model)
    if "ci-gocache" in names and "setup-go" in names:
        ours, theirs = result["per_event"]["ci-gocache"], result["per_event"]["setup-go"]
        # The verdicts: median over the repetitions of the per-repetition ratio, with the service model and
        # cold-paired (a strategy's cold build charged the no-cache time of its commit).
        spreads = result["per_event_ratios"].get("setup-go", {}).get("ci-gocache", {})
        ratio = {event: spreads[event]["service_model_cold_paired"]["median"] for event in spreads}
        gosum = [value for event, value in ratio.items() if event in ("dependency_bump", "new_dependency") and value is not None]
        result["per_event_targets"] = {
            "ratios_of_median_seconds": {event: _ratio(ours.get(event), theirs.get(event)) for event in theirs},
            "ratios_vs_setup_go": ratio,
            "source_only_push": {"target": "<= 1.0", "ratio": ratio.get("source_only_push"),
                                 "met": ratio.get("source_only_push") is not None and ratio["source_only_push"] <= 1.0},
            "go_sum_change": {"target": "<= 0.4", "ratio": max(gosum) if gosum else None,
                              "met": bool(gosum) and max(gosum) <= 0.4},
        }
    return result


def _paired_seconds(record: dict[str, Any], cold: dict[int, float], model: dict[str, float] | None) -> float:
    """A run's seconds, a run that built from scratch charged the no-cache time of its commit."""
    seconds = cold.get(record["run"], record["job_seconds"]) if built_from_scratch(record) else record["job_seconds"]
    return seconds + (model_seconds(record, model) if model else 0.0)


def per_event_ratios(repetitions: list[dict[str, list[dict[str, Any]]]], model: dict[str, float]) -> dict[str, Any]:
    """For each strategy, event kind and baseline: the ratio of its seconds on the runs of that kind to the
    baseline's in the same repetition, as median and range over the repetitions; raw, cold-paired, with the
    service model, and both."""
    names = list(repetitions[0]) if repetitions else []
    ratios: dict[str, Any] = {}
    for baseline in ("setup-go", "setup-go-go.sum"):
        if baseline not in names:
            continue
        for name in names:
            if name in ("no-cache", baseline):
                continue
            variants: dict[str, dict[str, list[float]]] = {}
            for runs in repetitions:
                cold = {r["run"]: r["job_seconds"] for r in runs.get("no-cache", [])}
                for event in EVENT_OF_KIND.values():
                    ours = [r for r in runs.get(name, []) if EVENT_OF_KIND.get(r["kind"]) == event]
                    theirs = [r for r in runs[baseline] if EVENT_OF_KIND.get(r["kind"]) == event]
                    if not ours or not theirs:
                        continue
                    for variant, pairing, service in (("raw", {}, None), ("cold_paired", cold, None),
                                                      ("service_model", {}, model), ("service_model_cold_paired", cold, model)):
                        value = sum(_paired_seconds(r, pairing, service) for r in ours) / sum(_paired_seconds(r, pairing, service) for r in theirs)
                        variants.setdefault(event, {}).setdefault(variant, []).append(value)
                    # CPU seconds of every phase (rusage of the child processes): what load does not stretch.
                    theirs_cpu = sum(sum(r.get("cpu_seconds", {}).values()) for r in theirs)
                    if theirs_cpu:
                        variants[event].setdefault("cpu", []).append(sum(sum(r.get("cpu_seconds", {}).values()) for r in ours) / theirs_cpu)
            ratios.setdefault(baseline, {})[name] = {
                event: {variant: _spread(values) for variant, values in by_variant.items()} for event, by_variant in variants.items()
            }
    return ratios


def _save_model_seconds(record: dict[str, Any], model: dict[str, float]) -> float:
    """The save as measured plus what the modelled service adds to it."""
    return record["save_seconds"] + record.get("save_requests", 0) * model["save_fixed_seconds"] + record.get("saved_bytes", 0) / (model["upload_mbps"] * 1e6)


def thinning_effect(repetitions: list[dict[str, list[dict[str, Any]]]], model: dict[str, float]) -> dict[str, Any] | None:
    """ci-gocache (thinned build saves) against ci-gocache-save-every-change, run for run: what the skipped
    saves buy (save seconds with the service model) and what the runs after them lose (build and test seconds)."""
    paired = [runs for runs in repetitions if {"ci-gocache", "ci-gocache-save-every-change"} <= set(runs)]
    if not paired:
        return None
    totals, saves, builds, restores, skipped, saved_builds = [], [], [], [], [], []
    for runs in paired:
        thin, every = runs["ci-gocache"], runs["ci-gocache-save-every-change"]
        pushes = [(a, b) for a, b in zip(thin, every) if a["kind"] != "pull-request"]
        totals.append(sum(modelled_job_seconds(a, model) for a, _ in pushes) / sum(modelled_job_seconds(b, model) for _, b in pushes))
        saves.append(sum(_save_model_seconds(a, model) - _save_model_seconds(b, model) for a, b in zip(thin, every)))
        builds.append(sum(a["build_test_seconds"] - b["build_test_seconds"] for a, b in zip(thin, every)))
        restores.append(sum(a["restore_seconds"] + a.get("restored_bytes", 0) / (model["download_mbps"] * 1e6)
                            - b["restore_seconds"] - b.get("restored_bytes", 0) / (model["download_mbps"] * 1e6) for a, b in zip(thin, every)))
        skipped.append(sum(1 for a in thin if a.get("build_save_reason", "").startswith("thinned")))
        saved_builds.append(sum(1 for a in thin if a.get("saved", {}).get("build") == "true"))
    return {
        "job_seconds_ratio_with_service_model": _spread(totals),
        "save_seconds_difference": _spread(saves),
        "restore_seconds_difference": _spread(restores),
        "build_test_seconds_difference": _spread(builds),
        "skipped_build_saves": _spread([float(count) for count in skipped]),
        "build_saves": _spread([float(count) for count in saved_builds]),
        "runs_per_repetition": len(paired[0]["ci-gocache"]),
        "repetitions": len(paired),
    }


def concurrent_restore(repetitions: list[dict[str, list[dict[str, Any]]]], model: dict[str, float]) -> dict[str, Any] | None:
    """What one step restoring the module and build caches at once would save: per ci-gocache run, the sum of
    the two restores (extraction plus the modelled lookup and download) minus the longer one."""
    if not repetitions or "ci-gocache" not in repetitions[0]:
        return None

    def part_seconds(part: dict[str, Any]) -> float:
        return part["seconds"] + model["lookup_seconds"] + part["bytes"] / (model["download_mbps"] * 1e6)

    by_event: dict[str, list[float]] = {}
    shares: dict[str, list[float]] = {}
    for runs in repetitions:
        for record in runs["ci-gocache"]:
            parts = [part_seconds(part) for part in record.get("restore_parts", {}).values()]
            if len(parts) != 2:
                continue
            event = EVENT_OF_KIND.get(record["kind"], record["kind"])
            gain = sum(parts) - max(parts)
            by_event.setdefault(event, []).append(gain)
            shares.setdefault(event, []).append(gain / modelled_job_seconds(record, model))
    return {
        "seconds_saved": {event: _spread(values) for event, values in by_event.items()},
        "share_of_job": {event: _spread(values) for event, values in shares.items()},
    }


def _shown_path(path: Path) -> str:
    path = path.resolve()
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def repetition_complete(runs: dict[str, list[dict[str, Any]]]) -> bool:
    """Every strategy but no-cache (which may skip it) ran the closing pull request."""
    return all(records and records[-1]["kind"] == "pull-request" for name, records in runs.items() if name != "no-cache")


def merge_results(results: list[dict[str, Any]]) -> dict[str, Any]:
    """One result from several runs of the same history: their complete repetitions, in order."""
    merged = dict(results[0])
    merged["repetitions"] = [runs for result in results for runs in result["repetitions"] if repetition_complete(runs)]
    merged["runs"] = merged["repetitions"][0]
    merged["partial"] = False
    merged["finished"] = results[-1]["finished"]
    merged["wall_seconds"] = round(sum(result["wall_seconds"] for result in results), 1)
    known = {cls.name: cls.description for cls in (NoCache, SetupGoDefault, SetupGoSumKeyed, ActionsCacheReadme, CiGocache, CiGocacheSaveEveryChange)}
    merged["strategies"] = {name: known.get(name, "") for runs in merged["repetitions"] for name in runs}
    merged["config"] = dict(results[0]["config"], command=" ; ".join(result["config"]["command"] for result in results),
                            repeat=len(merged["repetitions"]))
    loads = [record["load_before"] for runs in merged["repetitions"] for records in runs.values() for record in records]
    merged["machine"] = dict(results[0]["machine"], load_end=results[-1]["machine"]["load_end"],
                             load_mean=round(statistics.mean(loads), 2) if loads else None)
    return merged


def event_costs(result: dict[str, Any], json_path: Path = BENCH / "results" / "cache_benchmark.json") -> dict[str, Any]:
    """The per-event seconds in the format `ci-gocache simulate --costs` reads."""
    summary = result["repeated"]
    model = summary["model"]
    strategies = {name: costs for name, costs in summary["per_event"].items() if name in SIMULATED_STRATEGIES}
    extra_notes = []
    if "setup-go-go.sum" not in strategies and "setup-go" in strategies and result.get("setup_go_v5_hits_as_v7"):
        # Not run: its key misses and hits exactly where v7's does on this history.
        strategies["setup-go-go.sum"] = dict(strategies["setup-go"])
        extra_notes.append("setup-go-go.sum was not run: on this history its key (Go version and go.sum) changes exactly "
                           "where setup-go's (Go version and go.mod) does, and the pull request changes neither, so it "
                           "misses and hits on the same runs; its costs are setup-go's.")
    return {
        "format": "ci-gocache-costs/1",
        "source": f"{_shown_path(json_path)}, {result['finished']}, {result['config']['command']}",
        "notes": [
            f"Median seconds of each kind of run over {summary['repetitions']} repetitions of the history (restore + go mod "
            "download + build + test + save; checkout and toolchain set-up left out), with the modelled cache service added: "
            f"{model['lookup_seconds']} s per lookup, {model['save_fixed_seconds']} s per save, {model['download_mbps']} MB/s "
            f"down, {model['upload_mbps']} MB/s up.",
            "setup-go is v6.3+/v7 (key on go.mod); setup-go-go.sum is v4-v6.2 (key on go.sum).",
            f"Measured on {result['machine']['cpus']} shared CPUs (mean load {result['machine']['load_mean']}).",
            *extra_notes,
        ],
        "strategies": strategies,
    }


def human_bytes(count: int | None) -> str:
    """Sizes as the action's job summary writes them; an unknown size is a dash in the tables."""
    return "—" if count is None else action_summary.human_bytes(count)


def _fmt(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def render_markdown(result: dict[str, Any]) -> str:
    config = result["config"]
    machine = result["machine"]
    summary = result["summary"]
    names = list(result["runs"])
    lines = [
        "# Cache benchmark: what the caching buys on real Go builds",
        "",
        f"Measured {result['finished']} by `{config['command']}`: {config['commits']} commits, module set "
        f"`{config['module_set']}` ({', '.join(config['features'])}), {config['compression']} tarballs, "
        f"toolchains {', '.join(sorted(set(result['toolchains'].values())))}, proxy {config['proxy']}.",
        *([f"**Partial: {len(result['runs'][names[0]])} of {config['commits']} commits** (the run was cut short)."] if result.get("partial") else []),
        f"Machine: {machine['cpus']} CPUs shared with other work; load average {machine['load_start']} at the start, "
        f"{machine['load_end']} at the end, mean over runs {machine['load_mean']}. Wall time {result['wall_seconds'] / 60:.1f} min.",
        "",
        "## Totals over the history",
        "",
        "| strategy | job s | vs no cache | vs setup-go | restore s | download s | build+test s | save s | restored | saved | store at end | last saved build cache |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name in names:
        total = summary["totals"][name]
        vs_cold = summary["ratios"].get("job_seconds_vs_no-cache", {}).get(name)
        vs_setup = summary["ratios"].get("job_seconds_vs_setup-go", {}).get(name)
        lines.append(
            f"| {name} | {total['job_seconds']:.1f} | {_fmt(vs_cold, 2)}x | {_fmt(vs_setup, 2)}x | {total['restore_seconds']:.1f} | "
            f"{total['download_seconds']:.1f} | {total['build_test_seconds']:.1f} | {total['save_seconds']:.1f} | "
            f"{human_bytes(total['restored_bytes'])} | {human_bytes(total['saved_bytes'])} | {human_bytes(total['store_bytes_at_end'])} | "
            f"{human_bytes(total['latest_saved_build_cache_bytes'])} |"
        )
    lines += _render_repeated(result.get("repeated"))
    if result.get("repeated"):
        lines += _render_event_ratios(result["repeated"])
    lines += ["", "## Targets", ""]
    targets = summary["targets"]
    warm = targets.get("warm_job_vs_cold")
    if warm:
        lines.append(
            f"- Warm job <= 0.2x cold: **{'met' if warm['met'] else 'missed'}**: median {_fmt(warm['median_ratio'], 3)}x "
            f"(worst {_fmt(warm['max_ratio'], 3)}x) over {warm['runs']} source-only ci-gocache runs, each against the no-cache run "
            f"of the same commit; warm median {warm['warm_median_seconds']} s, cold median {warm['cold_median_seconds']} s."
        )
    total_target = targets.get("total_job_time_vs_setup_go")
    if total_target:
        lines.append(
            f"- ci-gocache total job time <= 0.6x setup-go's default: **{'met' if total_target['met'] else 'missed'}**: "
            f"{_fmt(total_target['ratio'], 3)}x."
        )
    size = targets.get("saved_build_cache_vs_last_build_used")
    if size:
        parts = ", ".join(
            f"{name} {human_bytes(value['latest_saved_build_cache_bytes'])} ({_fmt(value['ratio'], 2)}x)"
            for name, value in size["by_strategy"].items()
        )
        lines.append(
            f"- Saved build cache <= 1.3x what the last build used ({human_bytes(size['last_build_used_bytes'])}, the no-cache "
            f"GOCACHE after the last commit's build and test): **{'met' if size['met'] else 'missed'}** for ci-gocache. "
            f"Latest saved build cache (directory bytes): {parts}."
        )
    lines += ["", "## Job seconds per run", "", "| run | change | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(names)]
    by_run = {name: {record["run"]: record for record in result["runs"][name]} for name in names}
    longest = max(names, key=lambda name: len(result["runs"][name]))
    for record in result["runs"][longest]:
        cells = [f"{by_run[name][record['run']]['job_seconds']:.1f}" if record["run"] in by_run[name] else "—" for name in names]
        lines.append(f"| {record['run']} | {record['kind']}: {record['detail']} | " + " | ".join(cells) + " |")
    for name in names:
        lines += [
            "",
            f"## {name}",
            "",
            result["strategies"].get(name, ""),
            "",
            "| run | hits | restore s | restored | download s | build s | test s | save s | saved | GOCACHE after build | saved build cache | trimmed | load |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for record in result["runs"][name]:
            hits = ", ".join(f"{cache} {hit}" for cache, hit in record["hits"].items()) or "—"
            trimmed = human_bytes(record["trimmed_bytes"]) if "trimmed_bytes" in record else "—"
            lines.append(
                f"| {record['run']} | {hits} | {record['restore_seconds']:.1f} | {human_bytes(record['restored_bytes'])} | "
                f"{record['download_seconds']:.1f} | {record['build_seconds']:.1f} | {record['test_seconds']:.1f} | "
                f"{record['save_seconds']:.1f} | {human_bytes(record['saved_bytes'])} | {human_bytes(record['gocache_bytes_after_build'])} | "
                f"{human_bytes(record.get('saved_build_cache_bytes'))} | {trimmed} | {record['load_before']:.1f} |"
            )
    lines += ["", "Notes:", ""] + [f"- {note}" for note in result["notes"]]
    return "\n".join(lines) + "\n"


def _spread_text(spread: dict[str, float | None]) -> str:
    if spread["median"] is None:
        return "—"
    return f"{spread['median']:.2f}x ({spread['min']:.2f}–{spread['max']:.2f})"


def _render_repeated(repeated: dict[str, Any] | None) -> list[str]:
    if not repeated:
        return []
    model = repeated["model"]
    lines = [
        "",
        f"## Over {repeated['repetitions']} repetitions: ratios to setup-go (median, range)",
        "",
        "Raw: total job seconds of the pushes. Cold-paired: a run that built from scratch is charged the no-cache "
        "time of the same commit. With service model: plus the modelled cache service "
        f"({model['lookup_seconds']} s per lookup, {model['save_fixed_seconds']} s per save, {model['download_mbps']} MB/s "
        f"down, {model['upload_mbps']} MB/s up), and with that service twice as fast, twice as slow, or free.",
        "",
        "| strategy | vs | raw | cold-paired | service model | half | double | free |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for baseline, by_name in repeated["ratios_vs_setup_go"].items():
        for name, ratios in by_name.items():
            model_ratios = ratios["with_service_model"]
            lines.append(
                f"| {name} | {baseline} | {_spread_text(ratios['raw'])} | {_spread_text(ratios['cold_paired'])} | "
                f"{_spread_text(model_ratios['default'])} | {_spread_text(model_ratios['half'])} | "
                f"{_spread_text(model_ratios['double'])} | {_spread_text(model_ratios['none'])} |"
            )
    events = sorted({event for costs in repeated["per_event"].values() for event in costs}, key=list(EVENT_OF_KIND.values()).index)
    lines += [
        "",
        "## Per-event costs (median seconds with the service model)",
        "",
        "| strategy | " + " | ".join(event.replace("_", " ") for event in events) + " |",
        "|---|" + "---|" * len(events),
    ]
    for name, costs in repeated["per_event"].items():
        lines.append(f"| {name} | " + " | ".join(_fmt(costs.get(event)) for event in events) + " |")
    targets = repeated.get("per_event_targets")
    if targets:
        ratios = targets["ratios_vs_setup_go"]
        lines += [
            "",
            "ci-gocache per event ÷ setup-go (v7, go.mod key), service model, cold-paired, median over the repetitions: "
            + ", ".join(f"{event.replace('_', ' ')} {_fmt(ratios.get(event), 2)}x" for event in events if event in ratios)
            + ".",
            f"- A source-only push costs no more than setup-go's exact hit (<= 1.0x): "
            f"**{'met' if targets['source_only_push']['met'] else 'missed'}**, {_fmt(targets['source_only_push']['ratio'], 2)}x.",
            f"- A go.sum change (bump or new dependency) costs <= 0.4x setup-go's: "
            f"**{'met' if targets['go_sum_change']['met'] else 'missed'}**, worst {_fmt(targets['go_sum_change']['ratio'], 2)}x.",
        ]
    return lines


def _render_event_ratios(repeated: dict[str, Any]) -> list[str]:
    lines = [
        "",
        "## Per-event ratios (median and range over the repetitions)",
        "",
        "Each repetition's seconds on the runs of that kind ÷ the baseline's on the same runs. Cold-paired: a run that "
        "built from scratch is charged the no-cache time of its commit. Service: plus the modelled cache service.",
        "",
        "| strategy | vs | event | raw | cold-paired | service | service, cold-paired | CPU |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for baseline, by_name in repeated.get("per_event_ratios", {}).items():
        for name, by_event in by_name.items():
            for event, spreads in by_event.items():
                lines.append(
                    f"| {name} | {baseline} | {event.replace('_', ' ')} | {_spread_text(spreads['raw'])} | "
                    f"{_spread_text(spreads['cold_paired'])} | {_spread_text(spreads['service_model'])} | "
                    f"{_spread_text(spreads['service_model_cold_paired'])} | {_spread_text(spreads.get('cpu', _spread([])))} |"
                )
    thinning = repeated.get("thinning")
    if thinning:
        def seconds(spread: dict[str, float | None]) -> str:
            return "—" if spread["median"] is None else f"{spread['median']:+.1f} s ({spread['min']:+.1f} to {spread['max']:+.1f})"

        lines += [
            "",
            "## Build-save thinning: ci-gocache ÷ ci-gocache-save-every-change",
            "",
            f"- Total job seconds with the service model: {_spread_text(thinning['job_seconds_ratio_with_service_model'])}.",
            f"- Build saves per repetition: {thinning['build_saves']['median']:.0f} against the skipped "
            f"{thinning['skipped_build_saves']['median']:.0f} (of {thinning['runs_per_repetition']} runs).",
            f"- Save seconds (with the service model), summed over a repetition: {seconds(thinning['save_seconds_difference'])}.",
            f"- Restore seconds (with the modelled download): {seconds(thinning['restore_seconds_difference'])}.",
            f"- Build and test seconds, what the runs after a skipped save recompile: {seconds(thinning['build_test_seconds_difference'])}.",
        ]
    concurrent = repeated.get("concurrent_restore")
    if concurrent:
        lines += ["", "## Restoring both caches at once (not built: the sum of the two restores minus the longer one)", ""]
        for event, spread in concurrent["seconds_saved"].items():
            share = concurrent["share_of_job"][event]
            lines.append(f"- {event.replace('_', ' ')}: {spread['median']:.2f} s ({spread['min']:.2f}–{spread['max']:.2f}), "
                         f"{share['median']:.1%} of the job")
    return lines


def _nice_step(rough: float) -> float:
    """1, 2 or 5 times a power of ten, at least `rough`: readable axis ticks."""
    power = 10 ** math.floor(math.log10(rough)) if rough > 0 else 1
    return next(factor * power for factor in (1, 2, 5, 10) if factor * power >= rough)


COLORS = {"no-cache": "#888888", "setup-go": "#d62728", "setup-go-go.sum": "#9467bd", "actions-cache-readme": "#ff7f0e", "ci-gocache": "#1f77b4",
          "ci-gocache-save-every-change": "#17becf"}


def render_svg(result: dict[str, Any]) -> str:
    """Two panels, one line per strategy: job seconds per run, restored cache size per run."""
    names = list(result["runs"])
    runs = result["runs"][names[0]]
    count = len(runs)
    width, panel_height, left, right, top, gap = 900, 260, 70, 190, 60, 70
    height = top + 2 * panel_height + gap + 50
    plot_width = width - left - right
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        'font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{left}" y="20" font-size="15" font-weight="bold">Go CI caching: {count} runs of one history '
        f'({result["config"]["module_set"]} module set)</text>',
    ]

    def x_of(index: int) -> float:
        return left + (plot_width * index / max(1, count - 1))

    panels = [
        ("job seconds per run", lambda record: record["job_seconds"], lambda value: f"{value:.0f} s"),
        ("cache restored per run (MiB, compressed)", lambda record: record["restored_bytes"] / 2**20, lambda value: f"{value:.0f}"),
    ]
    for panel, (title, value_of, label_of) in enumerate(panels):
        y0 = top + panel * (panel_height + gap)
        values = [value_of(record) for name in names for record in result["runs"][name]]
        tick = _nice_step(max(values + [1.0]) / 4)
        peak = tick * (int(max(values + [1.0]) / tick) + 1)

        def y_of(value: float) -> float:
            return y0 + panel_height - panel_height * value / peak

        out.append(f'<text x="{left}" y="{y0 - 8}" font-weight="bold">{title}</text>')
        out.append(f'<rect x="{left}" y="{y0}" width="{plot_width}" height="{panel_height}" fill="none" stroke="#444"/>')
        for step in range(int(round(peak / tick)) + 1):
            value = tick * step
            y = y_of(value)
            out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_width}" y2="{y:.1f}" stroke="#eee"/>')
            out.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{label_of(value)}</text>')
        for index, record in enumerate(runs):
            x = x_of(index)
            out.append(f'<text x="{x:.1f}" y="{y0 + panel_height + 15}" text-anchor="middle">{record["run"]}</text>')
            if record["kind"] not in ("source", "initial"):
                out.append(f'<line x1="{x:.1f}" y1="{y0}" x2="{x:.1f}" y2="{y0 + panel_height}" stroke="#999" stroke-dasharray="4 3"/>')
                if panel == 0:
                    anchor, shift = ("end", -3) if index > (count - 1) * 0.8 else ("start", 3)
                    out.append(
                        f'<text x="{x + shift:.1f}" y="{y0 + 12}" fill="#555" font-size="10" text-anchor="{anchor}">{record["kind"]}</text>'
                    )
        for name in names:
            points = " ".join(f"{x_of(i):.1f},{y_of(value_of(r)):.1f}" for i, r in enumerate(result["runs"][name]))
            color = COLORS.get(name, "#000")
            out.append(f'<polyline points="{points}" fill="none" stroke="{color}" stroke-width="2"/>')
            for i, r in enumerate(result["runs"][name]):
                out.append(f'<circle cx="{x_of(i):.1f}" cy="{y_of(value_of(r)):.1f}" r="2.5" fill="{color}"/>')
    for index, name in enumerate(names):
        y = top + 10 + index * 20
        color = COLORS.get(name, "#000")
        out.append(f'<line x1="{width - right + 15}" y1="{y}" x2="{width - right + 40}" y2="{y}" stroke="{color}" stroke-width="3"/>')
        out.append(f'<text x="{width - right + 46}" y="{y + 4}">{name}</text>')
    out.append(f'<text x="{left + plot_width / 2}" y="{height - 10}" text-anchor="middle">run (commit of the history)</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--commits", type=int, default=20, help="length of the scripted history (default 20)")
    parser.add_argument("--modules", choices=sorted(MODULE_SETS), default="heavy",
                        help="heavy: client-go, client_golang, x/tools; light: without client-go (default heavy)")
    parser.add_argument("--strategies", default=",".join(STRATEGY_NAMES), help="comma-separated subset of " + ",".join(STRATEGY_NAMES))
    parser.add_argument("--compression", choices=["zstd", "gzip"], default="zstd")
    parser.add_argument("--old-go", default="go1.25.14", help="toolchain for the history's `go 1.25.0` commits")
    parser.add_argument("--new-go", default="local", help="toolchain for `go 1.26.0` commits (local: the installed go)")
    parser.add_argument("--proxy", default=DEFAULT_PROXY, help="GOPROXY for every run")
    parser.add_argument("--work", type=Path, default=BENCH / "work")
    parser.add_argument("--results", type=Path, default=BENCH / "results")
    parser.add_argument("--merge", type=Path, nargs="+", metavar="JSON",
                        help="join the complete repetitions of these results (a run resumed with --start-repetition) into "
                             "--results, then write the markdown, SVG and event costs as --render does")
    parser.add_argument("--render", type=Path, metavar="JSON", help="only write the markdown and SVG again from this JSON")
    parser.add_argument("--repeat", type=int, default=3, help="replays of the whole history, each from empty stores (default 3)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the strategy order per commit (default 1)")
    parser.add_argument("--no-cache-runs", choices=["all", "cold-commits"], default="all",
                        help="cold-commits: no-cache runs only the dependency bump, new dependency and Go version change, "
                             "the commits the cold pairing needs (not source-only pushes, the pull request or the initial commit)")
    parser.add_argument("--start-repetition", type=int, default=1,
                        help="the first repetition to run (its seeds are those of that repetition): resume a run cut short, "
                             "then merge the JSON files' repetitions")
    parser.add_argument("--once", default="", help="comma-separated strategies that run in the first repetition only")
    parser.add_argument("--drop-caches", action="store_true", help="empty the page cache before each run (needs root)")
    parser.add_argument("--lookup-seconds", type=float, default=SERVICE_MODEL["lookup_seconds"])
    parser.add_argument("--save-fixed-seconds", type=float, default=SERVICE_MODEL["save_fixed_seconds"])
    parser.add_argument("--download-mbps", type=float, default=SERVICE_MODEL["download_mbps"])
    parser.add_argument("--upload-mbps", type=float, default=SERVICE_MODEL["upload_mbps"])
    args = parser.parse_args(argv)
    model = {"lookup_seconds": args.lookup_seconds, "save_fixed_seconds": args.save_fixed_seconds,
             "download_mbps": args.download_mbps, "upload_mbps": args.upload_mbps}
    if args.merge:
        merged = merge_results([json.loads(path.read_text()) for path in args.merge])
        args.results.mkdir(parents=True, exist_ok=True)
        args.render = args.results / "cache_benchmark.json"
        args.render.write_text(json.dumps(merged, indent=1) + "\n")
    if args.render:
        result = json.loads(args.render.read_text())
        result["summary"] = summarise(result["runs"])
        if "repetitions" in result:
            complete = [runs for runs in result["repetitions"] if repetition_complete(runs)]
            result["repeated"] = summarise_repetitions(complete, result.get("repeated", {}).get("model", model))
        first = result["history"][0]["commit"]
        for candidate in sorted(args.work.glob("history-*")):
            if candidate.is_dir() and subprocess.run(["git", "-C", str(candidate), "cat-file", "-e", first], capture_output=True).returncode == 0:
                result["setup_go_v5_hits_as_v7"] = setup_go_v5_hits_as_v7(candidate, result["history"])
                break
        if "repeated" in result and all(len(costs) == len(EVENT_OF_KIND) for name, costs in result["repeated"]["per_event"].items()
                                        if name in SIMULATED_STRATEGIES):
            (args.render.parent / "event_costs.json").write_text(json.dumps(event_costs(result, args.render), indent=2) + "\n")
        args.render.write_text(json.dumps(result, indent=1) + "\n")
        args.render.with_suffix(".md").write_text(render_markdown(result))
        args.render.with_suffix(".svg").write_text(render_svg(result))
        return 0
    names = [name.strip() for name in args.strategies.split(",") if name.strip()]
    unknown = [name for name in names if name not in STRATEGY_NAMES]
    if unknown or args.commits < 2 or args.repeat < 1:
        parser.error(f"unknown strategies {unknown}" if unknown else "--commits must be at least 2 and --repeat at least 1")
    names = [name for name in STRATEGY_NAMES if name in names]
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    started_wall = time.monotonic()
    load_start = os.getloadavg()

    toolchains = ensure_toolchains(work, args.old_go, args.new_go, args.proxy)
    log(f"toolchains: {toolchains.versions}")
    history, commits = build_history(work, args.commits, args.modules, toolchains, args.proxy)
    log(f"history: {history} ({len(commits)} commits)")
    action = patched_action_inputs(history, commits[0]["commit"], work) if "ci-gocache" in names else {"inputs": {}}
    v5_hits_as_v7 = setup_go_v5_hits_as_v7(history, commits)
    once = {name.strip() for name in args.once.split(",") if name.strip()}
    strategies = make_strategies(names if args.start_repetition == 1 else [n for n in names if n not in once],
                                 work, args.compression, action["inputs"])
    descriptions = {strategy.name: strategy.description for strategy in strategies}
    repetitions: list[dict[str, list[dict[str, Any]]]] = []

    def skipped(name: str, commit: dict[str, Any], pull_request: int) -> bool:
        # The cold pairing needs no-cache only where some strategies build from scratch and others do not; the
        # initial commit is cold for all of them and is no event.
        return name == "no-cache" and args.no_cache_runs == "cold-commits" and (bool(pull_request) or commit["kind"] in ("source", "initial"))

    expected = {name: len(commits) + 1 - sum(skipped(name, commit, 0) for commit in commits) - skipped(name, commits[-1], 1)
                for name in names}

    def write_results(done: int) -> dict[str, Any]:
        """The results so far (a run cut short still leaves its figures)."""
        complete = [runs for runs in repetitions if all(len(records) == expected[name] for name, records in runs.items())]
        runs = complete[0] if complete else repetitions[0]
        loads = [record["load_before"] for each in repetitions for records in each.values() for record in records]
        result: dict[str, Any] = {
            "partial": done < len(commits) * (args.repeat - args.start_repetition + 1),
            "finished": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "wall_seconds": round(time.monotonic() - started_wall, 1),
            "config": {
                "command": "python bench/cache_benchmark.py" + (" " + " ".join(argv if argv is not None else sys.argv[1:])).rstrip(),
                "commits": args.commits, "module_set": args.modules, "features": MODULE_SETS[args.modules],
                "modules": [spec for feature in MODULE_SETS[args.modules] for spec in FEATURE_MODULES[feature]],
                "dependency_bump": DEPENDENCY_BUMP, "new_dependency": NEW_DEPENDENCY,
                "compression": args.compression, "proxy": args.proxy,
                "repeat": args.repeat, "seed": args.seed, "drop_caches": args.drop_caches, "service_model": model,
                "no_cache_runs": args.no_cache_runs, "once": sorted(once),
            },
            "machine": {
                "cpus": os.cpu_count(), "platform": platform.platform(),
                "load_start": [round(value, 2) for value in load_start],
                "load_end": [round(value, 2) for value in os.getloadavg()],
                "load_mean": round(statistics.mean(loads), 2) if loads else None,
            },
            "toolchains": toolchains.versions,
            "history": commits,
            "setup_go_v5_hits_as_v7": v5_hits_as_v7,
            "strategies": descriptions,
            "ci_gocache_action_inputs": action["inputs"],
            "ci_gocache_patched_steps": action.get("steps", []),
            "sources": {
                relative: {"sha256": file_sha256(REPO / relative),
                           "committed": subprocess.run(["git", "-C", str(REPO), "ls-files", "--error-unmatch", relative],
                                                       capture_output=True, check=False).returncode == 0}
                for relative in (*sorted(path.relative_to(REPO).as_posix() for path in (REPO / "src/ci_gocache/action").glob("*.py")),
                                 "src/ci_gocache/keys.py", "src/ci_gocache/sumfiles.py", "tests/support/cachestore.py")
            },
            "runs": runs,
            "repetitions": repetitions,
            "notes": [
                "Job seconds = restore + go mod download + go build ./... + go test ./... + save; checkout and toolchain set-up are "
                "left out (the same for every strategy).",
                "Every run starts with empty GOMODCACHE and GOCACHE; each strategy has its own directories and cache store.",
                "Strategies run commit by commit in an order shuffled per commit (seeded), and the history is replayed "
                "--repeat times from empty stores; 'runs' holds the first complete repetition, 'repetitions' all of them.",
                "Each repetition ends with one pull request run per strategy: a source change on top of the last commit, "
                "restoring the default branch's caches (ci-gocache saves nothing on pull requests; the one-entry "
                "strategies save only on a miss, into the pull request's scope, as actions/cache does).",
                "The cache service is a local folder; the modelled service time (lookups, save requests, bytes over the "
                "modelled bandwidths) is added only where the results say 'with service model'.",
                "The Go 1.25 toolchain is golang.org/toolchain from the module proxy, the Go 1.26 toolchain the installed one; "
                "neither sits in a cache (setup-go installs Go outside GOMODCACHE).",
                "GOFLAGS=-buildvcs=false for every strategy (the workspace lies inside this repository's git tree).",
                "The build cache a build used is measured as the no-cache GOCACHE after the last commit's build and test: a cold "
                "cache holds exactly what that build and test wrote.",
            ],
        }
        result["summary"] = summarise({name: [r for r in records if r["kind"] != "pull-request"] for name, records in runs.items()})
        if complete:
            result["repeated"] = summarise_repetitions(complete, model)
        args.results.mkdir(parents=True, exist_ok=True)
        if complete and all(len(costs) == len(EVENT_OF_KIND) for name, costs in result["repeated"]["per_event"].items()
                            if name in SIMULATED_STRATEGIES):
            (args.results / "event_costs.json").write_text(json.dumps(event_costs(result, args.results / "cache_benchmark.json"), indent=2) + "\n")
        (args.results / "cache_benchmark.json").write_text(json.dumps(result, indent=1) + "\n")
        (args.results / "cache_benchmark.md").write_text(render_markdown(result))
        (args.results / "cache_benchmark.svg").write_text(render_svg(result))
        return result

    done = 0
    for repetition in range(args.start_repetition - 1, args.repeat):
        if repetition > args.start_repetition - 1:
            active = [name for name in names if name not in once]
            strategies = make_strategies(active, work, args.compression, action["inputs"])  # empty stores again
        runs: dict[str, list[dict[str, Any]]] = {strategy.name: [] for strategy in strategies}
        repetitions.append(runs)
        # The pull request comes last: a source change on top of the last commit, restore only.
        jobs = [(index + 1, commit, 0) for index, commit in enumerate(commits)]
        jobs.append((len(commits) + 1, commits[-1], 9000 + repetition))
        for number, commit, pull_request in jobs:
            order = list(strategies)
            random.Random(f"{args.seed}:{repetition}:{number}").shuffle(order)
            for strategy in order:
                if skipped(strategy.name, commit, pull_request):
                    continue
                record = run_job(strategy, work / "strategies" / strategy.name, number, commit, history, toolchains,
                                 args.proxy, pull_request=pull_request, drop_caches=args.drop_caches)
                record["repetition"] = repetition + 1
                runs[strategy.name].append(record)
                log(
                    f"rep {repetition + 1}/{args.repeat} run {number}/{len(jobs)} {strategy.name:21} {record['kind']:15} "
                    f"job {record['job_seconds']:6.1f} s (restore {record['restore_seconds']:.1f}, download "
                    f"{record['download_seconds']:.1f}, build+test {record['build_test_seconds']:.1f}, save "
                    f"{record['save_seconds']:.1f}) hits {record['hits']} cpu {record['cpu_seconds']} load {record['load_before']:.1f}"
                )
            done += 1 if not pull_request else 0
            write_results(done)
    result = write_results(len(commits) * (args.repeat - args.start_repetition + 1))
    print(render_markdown(result).split("## Job seconds per run")[0])
    log(f"wrote {args.results}/cache_benchmark.{{json,md,svg}} and event_costs.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
