"""Run workflows under nektos/act (host mode, no Docker) against act's own cache server.

One `ActRunner` is one self-hosted runner machine used for a whole history of CI runs:
- HOME is one fixed directory for every run, so GOMODCACHE and GOCACHE (under HOME) have the
  same paths each time; actions/cache versions a cache by its paths, so a HOME that moved would
  never hit. Go's directories are emptied before each run: every run starts as a fresh runner.
- act puts the workspace at a new random path on every run (under HOME/.cache/act), where a
  GitHub runner has one fixed path. Go puts a package's directory into its build action IDs, so
  the build cache could never hit: the runner's environment has GOFLAGS=-trimpath, which leaves
  the directory out. Go's package index (GOCACHE entries "go index v2") still records each
  main-module package's absolute directory, so every act run would add index entries that a
  fixed-path runner reuses; GODEBUG=goindex=0 turns the index off. (In host mode act
  always makes the workspace a new random directory; no flag fixes it.)
- The cache server is act's built-in one, started by each `act` call on one storage directory
  (--cache-server-path), so the runs of a history share it as the runs of a repository share
  GitHub's cache.
- Parallel matrix jobs in one act call would share HOME, and so restore into the same
  directories at once. A matrix job runs as its own `act --matrix` call instead, one after the
  other on the same runner (same HOME path, as every GitHub runner has /home/runner), emptied
  between them like any fresh runner.
- act empties the job summary file at every step, so the hit report is read from act's log
  (the run records the action prints), never from a summary file.
- `uses:` references go to local directories (--local-repository): the stand-ins of
  tests/act/standins.py and a copy of this checkout's action (action.yml, save/, src/).
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from act import standins
from ci_gocache.pins import PINNED_ACTIONS
from ci_gocache.reporting.records import parse_records

REPO = Path(__file__).resolve().parents[2]
ACT = Path.home() / "go" / "bin" / "act"
ACT_VERSION = "0.2.89"
MODULE = Path(__file__).resolve().parent / "module"
# What the tests write as the ci-gocache action's reference (`--action-repository/-ref`).
ACTION_REPOSITORY = "acme/ci-gocache"
ACTION_REF = "0123456789abcdef0123456789abcdef01234567"
ACTION_VERSION = "v0.0.0"
# References of the user's own steps in the workflows the tests write (not in pins.py).
# `ci-gocache init` writes the pinned setup-go of pins.py.
SETUP_GO_REFS = ("v5", PINNED_ACTIONS["actions/setup-go"].commit)
COMPILED_PACKAGE = re.compile(r"/compile\s.*?\s-p\s+(\S+)")
MODULE_ZIP_GET = re.compile(r"^# get https?://[^ ]+?/(\S+)/@v/(\S+)\.zip$", re.MULTILINE)
CACHE_SAVED = re.compile(r"^Cache saved with key: (\S+)$", re.MULTILINE)
CACHE_RESTORED = re.compile(r"^Cache restored from key: (\S+)$", re.MULTILINE)
CACHE_NOT_FOUND = re.compile(r"^Cache not found for input keys: (.+)$", re.MULTILINE)
STEP_TIMEOUT_SECONDS = 900


def act_version() -> str:
    completed = subprocess.run([str(ACT), "--version"], capture_output=True, text=True, check=True)
    return completed.stdout.strip().rsplit(" ", 1)[-1]


def unescape_module_path(path: str) -> str:
    """The module proxy's case encoding (`!x` for `X`) undone."""
    return re.sub(r"!([a-z])", lambda match: match.group(1).upper(), path)


@dataclass
class ActRun:
    """One `act` call: its exit status and its JSON log, with the questions tests ask of it."""

    returncode: int
    entries: list[dict]
    stderr: str

    @property
    def text(self) -> str:
        return "".join(entry.get("msg", "") for entry in self.entries if entry.get("raw_output"))

    @property
    def log(self) -> str:
        return "\n".join(str(entry.get("msg", "")).rstrip("\n") for entry in self.entries)

    def outputs(self, *step_path: str) -> dict[str, str]:
        """Outputs act recorded for the step at this path of step ids (e.g. "go-cache", "restored")."""
        found: dict[str, str] = {}
        for entry in self.entries:
            if entry.get("command") == "set-output" and list(step_path) == (entry.get("stepID") or [])[-len(step_path):]:
                found[entry["name"]] = entry["arg"]
        return found

    @property
    def job_results(self) -> dict[str, str]:
        return {entry["jobID"]: entry["jobResult"] for entry in self.entries if "jobResult" in entry}

    def compiled_packages(self) -> set[str]:
        return set(COMPILED_PACKAGE.findall(self.text))

    def downloaded_modules(self) -> set[str]:
        """`module@version` for every module zip `go mod download -x` fetched from the proxy."""
        return {f"{unescape_module_path(path)}@{version}" for path, version in MODULE_ZIP_GET.findall(self.text)}

    def saved_keys(self) -> list[str]:
        return CACHE_SAVED.findall(self.text)

    def restored_keys(self) -> list[str]:
        return CACHE_RESTORED.findall(self.text)

    def missed_keys(self) -> list[list[str]]:
        """For each restore that missed, the keys actions/cache tried: primary, then restore keys."""
        return [line.split(", ") for line in CACHE_NOT_FOUND.findall(self.text)]

    def records(self) -> dict[str, dict]:
        """The action's run records (one per cache) found in act's log, by cache ("mod", "build")."""
        return {record["cache"]: record for record in parse_records(self.text)}

    def warnings(self) -> list[str]:
        """The `::warning::` commands of the run, as act logged them."""
        return [str(entry.get("msg", "")).strip() for entry in self.entries if entry.get("command") == "warning"]

    def summaries(self) -> list[str]:
        """What steps wrote to the job summary. act empties the summary file at every step, but
        logs each step's summary first; these are the logged ones, in order."""
        return [str(entry.get("msg", "")) for entry in self.entries if entry.get("command") == "summary"]


def _ignore_build_products(_directory: str, names: list[str]) -> set[str]:
    return {name for name in names if name == "__pycache__"}


class ActRunner:
    """A runner machine (fixed HOME) and a repository work tree, running workflows under act."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.home = root / "home"
        self.work_tree = root / "repo"
        self.cache_server = root / "cache-server"
        self.actions = root / "actions"
        self.run_count = 0
        self.home.mkdir(parents=True, exist_ok=True)
        self.cache_server.mkdir(parents=True, exist_ok=True)
        standins.write_actions_cache(self.actions / "actions-cache")
        standins.write_setup_go(self.actions / "setup-go")
        self._copy_ci_gocache_action(self.actions / "ci-gocache")

    def _copy_ci_gocache_action(self, destination: Path) -> None:
        """The action as the tag a user pins would hold it: action.yml, save/ and the package."""
        if destination.exists():
            shutil.rmtree(destination)
        destination.mkdir(parents=True)
        shutil.copy2(REPO / "action.yml", destination / "action.yml")
        shutil.copytree(REPO / "save", destination / "save")
        shutil.copytree(REPO / "src" / "ci_gocache", destination / "src" / "ci_gocache", ignore=_ignore_build_products)

    def local_repositories(self) -> list[str]:
        cache = PINNED_ACTIONS["actions/cache"]
        mapping = [f"actions/cache@{cache.commit}={self.actions / 'actions-cache'}"]
        mapping += [f"actions/setup-go@{ref}={self.actions / 'setup-go'}" for ref in SETUP_GO_REFS]
        mapping.append(f"{ACTION_REPOSITORY}@{ACTION_REF}={self.actions / 'ci-gocache'}")
        return mapping

    # ------------------------------------------------------------------ the work tree

    def write_module(self) -> None:
        """The Go module under test, as its first commit (a fresh git repository)."""
        if self.work_tree.exists():
            shutil.rmtree(self.work_tree)
        shutil.copytree(MODULE / "base", self.work_tree)
        self._git("init", "-q", "-b", "main")
        self.commit("first commit")

    def apply(self, change: str) -> None:
        """Copy the files of a named change (tests/act/module/<change>/) over the work tree."""
        shutil.copytree(MODULE / change, self.work_tree, dirs_exist_ok=True)

    def commit(self, message: str) -> None:
        self._git("add", "-A")
        self._git("-c", "user.name=act test", "-c", "user.email=act@example.invalid", "commit", "-q", "--allow-empty", "-m", message)

    def _git(self, *args: str) -> None:
        subprocess.run(["git", *args], cwd=self.work_tree, check=True, capture_output=True, timeout=60)

    # ------------------------------------------------------------------ runs

    def fresh_go_dirs(self) -> None:
        """What a new runner has of Go's caches: nothing (act's own action cache stays)."""
        for directory in (self.home / "go", self.home / ".cache" / "go-build"):
            if directory.exists():
                subprocess.run(["chmod", "-R", "u+w", str(directory)], check=True)
                shutil.rmtree(directory)

    def event_file(self, event: str, ref: str) -> Path:
        payload: dict = {"repository": {"default_branch": "main", "full_name": "acme/actdemo", "name": "actdemo"}}
        if event == "push":
            payload["ref"] = ref
        else:
            number = 7
            payload.update(
                number=number,
                pull_request={"number": number, "head": {"ref": "feature"}, "base": {"ref": "main"}},
            )
        path = self.root / f"event-{event}.json"
        path.write_text(json.dumps(payload))
        return path

    def run(
        self,
        event: str = "push",
        *,
        workflow: str = ".github/workflows/ci.yml",
        ref: str = "refs/heads/main",
        matrix: str | None = None,
        refuse_saves_after: str | None = None,
        job: str | None = None,
    ) -> ActRun:
        """One CI run of the work tree's workflow on a fresh runner.

        `refuse_saves_after`: once a log line containing this text appears, hold the lock of act's
        cache database until the run ends, so act's cache server answers every later request with
        an error, as a cache service that refuses a save does.
        """
        self.run_count += 1
        self.fresh_go_dirs()
        command = [
            str(ACT), event,
            "-C", str(self.work_tree),
            "-W", str(self.work_tree / workflow),
            "-e", str(self.event_file(event, ref)),
            "-P", "ubuntu-latest=-self-hosted",
            "--json",
            "--cache-server-path", str(self.cache_server),
            "--cache-server-addr", "127.0.0.1",
            "--env", f"GITHUB_RUN_ID={1000 + self.run_count}",
            "--env", "GITHUB_RUN_ATTEMPT=1",
        ]
        if event == "pull_request":
            command += ["--env", "GITHUB_HEAD_REF=feature", "--env", "GITHUB_BASE_REF=main"]
        for mapping in self.local_repositories():
            command += ["--local-repository", mapping]
        if matrix:
            command += ["--matrix", matrix]
        if job:
            command += ["-j", job]
        env = {
            key: value for key, value in os.environ.items()
            if not key.startswith(("GITHUB_", "RUNNER_", "ACTIONS_", "CI_GOCACHE_", "GO"))
        }
        env.update(
            HOME=str(self.home),
            GOFLAGS="-trimpath -modcacherw",
            GODEBUG="goindex=0",
            GOTOOLCHAIN="local",
            GOPROXY=os.environ.get("GOPROXY", "https://proxy.golang.org,direct"),
            PYTHONDONTWRITEBYTECODE="1",
        )
        env.pop("PYTHONPATH", None)
        lines: list[str] = []
        lock = None
        process = subprocess.Popen(
            command, cwd=self.work_tree, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        try:
            assert process.stdout is not None
            for line in process.stdout:
                lines.append(line)
                if refuse_saves_after and lock is None and refuse_saves_after in line:
                    lock = self._lock_cache_database()
            stderr = process.stderr.read() if process.stderr else ""
            returncode = process.wait(timeout=STEP_TIMEOUT_SECONDS)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            if lock is not None:
                lock.close()
        entries = []
        for line in lines:
            line = line.strip()
            if line.startswith("{"):
                try:
                    entries.append(json.loads(line))
                except ValueError:
                    entries.append({"msg": line})
        return ActRun(returncode, entries, stderr)

    def _lock_cache_database(self):
        """Take the lock act's cache server (bbolt) needs for every request."""
        database = open(self.cache_server / "bolt.db", "a+b")  # noqa: SIM115 - held until the run ends
        fcntl.flock(database.fileno(), fcntl.LOCK_EX)
        return database

    # ------------------------------------------------------------------ what a run left behind

    def build_cache_dir(self) -> Path:
        return self.home / ".cache" / "go-build"


def dangling_build_cache_references(gocache: Path) -> list[str]:
    """Action entries (`*-a`) of a Go build cache whose output file (`<output id>-d`) is gone."""
    missing = []
    for entry in gocache.glob("??/*-a"):
        fields = entry.read_text(errors="replace").split()
        # An action entry: "v1 <action id> <output id> <size> <time>".
        if len(fields) < 4 or fields[0] != "v1":
            continue
        output_id = fields[2]
        if not (gocache / output_id[:2] / f"{output_id}-d").exists():
            missing.append(f"{entry.name} -> {output_id}-d")
    return missing
