"""Concurrent and interrupted runs: many `patch` runs on one tree, `patch` racing a `git checkout`,
runs stopped by SIGTERM or SIGKILL in the middle. No file is ever empty, partial or lost, and no
temporary file is left in the repository.

Real processes throughout: the real command line, real git, real signals."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from support.cli import run_cli

BASIC = Path(__file__).parent / "fixtures" / "github" / "basic" / "repo"
WORKFLOW = (BASIC / ".github" / "workflows" / "ci.yml").read_bytes()
# A second version of the workflow, as another branch would have it.
OTHER_WORKFLOW = WORKFLOW.replace(b"name: CI\n", b"name: CI on the other branch\n", 1)

RUNS = 200
AT_ONCE = 50  # 200 processes of ~50 MB each at once is more memory than a shared CI machine has


def make_repo(root: Path, workflows: dict[str, bytes]) -> Path:
    (root / ".github" / "workflows").mkdir(parents=True)
    shutil.copy(BASIC / "go.mod", root / "go.mod")
    shutil.copy(BASIC / "go.sum", root / "go.sum")
    for name, content in workflows.items():
        (root / ".github" / "workflows" / name).write_bytes(content)
    return root


def patched(tmp_path: Path, content: bytes) -> bytes:
    """What a single, undisturbed run makes of `content`."""
    repo = make_repo(tmp_path / f"reference-{len(content)}-{hash(content) & 0xFFFF}", {"ci.yml": content})
    assert run_cli("patch", cwd=repo).returncode == 0
    result = (repo / ".github" / "workflows" / "ci.yml").read_bytes()
    assert result != content
    return result


def patch_command() -> list[str]:
    return [sys.executable, "-m", "ci_gocache", "patch"]


def leftovers(root: Path) -> list[Path]:
    return [path for path in root.rglob("*") if path.name.endswith(".ci-gocache.tmp")]


class Watcher(threading.Thread):
    """Reads a file over and over while runs write it, and keeps every distinct content it saw."""

    def __init__(self, path: Path) -> None:
        super().__init__(daemon=True)
        self.path = path
        self.seen: set[bytes] = set()
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self.seen.add(self.path.read_bytes())
            except FileNotFoundError:
                self.seen.add(b"<missing>")


def run_many(repo: Path, runs: int, at_once: int) -> list[subprocess.CompletedProcess[str]]:
    """`runs` patch processes, `at_once` of them alive at any moment."""
    finished: list[subprocess.CompletedProcess[str]] = []
    running: list[subprocess.Popen[str]] = []
    started = 0
    while started < runs or running:
        while started < runs and len(running) < at_once:
            running.append(
                subprocess.Popen(patch_command(), cwd=repo, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            )
            started += 1
        process = running.pop(0)
        stdout, stderr = process.communicate(timeout=600)
        finished.append(subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr))
    return finished


def test_200_parallel_runs_never_leave_an_empty_or_partial_file(tmp_path: Path) -> None:
    expected = patched(tmp_path, WORKFLOW)
    repo = make_repo(tmp_path / "repo", {"ci.yml": WORKFLOW})
    workflow = repo / ".github" / "workflows" / "ci.yml"
    watcher = Watcher(workflow)
    watcher.start()
    try:
        results = run_many(repo, RUNS, AT_ONCE)
    finally:
        watcher.stop.set()
        watcher.join()
    assert watcher.seen <= {WORKFLOW, expected}, "a reader saw a file that is neither the original nor the patch"
    for result in results:
        assert result.returncode == 0, result.stderr
        assert "Traceback" not in result.stderr
    assert workflow.read_bytes() == expected
    assert not leftovers(repo)
    assert sum("patched" in result.stdout for result in results) >= 1


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, timeout=60)


def test_patch_racing_git_checkout_never_loses_or_mixes_a_file(tmp_path: Path) -> None:
    whole = {WORKFLOW, OTHER_WORKFLOW, patched(tmp_path, WORKFLOW), patched(tmp_path, OTHER_WORKFLOW)}
    repo = make_repo(tmp_path / "repo", {"ci.yml": WORKFLOW})
    workflow = repo / ".github" / "workflows" / "ci.yml"
    git(repo, "init", "-q", "-b", "one")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "--allow-empty", "-m", "root")
    git(repo, "add", ".")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "one")
    git(repo, "checkout", "-q", "-b", "two")
    workflow.write_bytes(OTHER_WORKFLOW)
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-am", "two")

    stop = threading.Event()
    checkouts = 0

    def switch_branches() -> None:
        nonlocal checkouts
        while not stop.is_set():
            git(repo, "checkout", "-q", "-f", "one" if checkouts % 2 else "two")
            checkouts += 1

    switcher = threading.Thread(target=switch_branches, daemon=True)
    switcher.start()
    try:
        results = run_many(repo, 40, 10)
    finally:
        stop.set()
        switcher.join()
    assert checkouts > 0
    for result in results:
        # git writes files in place: a run may read one half-written and report it (exit 2, nothing
        # written). What it must never do is write over what git wrote.
        assert result.returncode in (0, 2) and "Traceback" not in result.stderr, result.stderr
    assert workflow.read_bytes() in whole
    assert not leftovers(repo)


def _kill_during_runs(tmp_path: Path, which: signal.Signals, fractions: list[float]) -> list[Path]:
    """Start a run over many workflows, kill it at each fraction of an undisturbed run's duration,
    and return the repositories left behind."""
    names = {f"ci-{index:02d}.yml": WORKFLOW for index in range(30)}
    reference = make_repo(tmp_path / "timing", names)
    began = time.monotonic()
    assert run_cli("patch", cwd=reference).returncode == 0
    duration = time.monotonic() - began
    repos = []
    for index, fraction in enumerate(fractions):
        repo = make_repo(tmp_path / f"killed-{index}", names)
        process = subprocess.Popen(patch_command(), cwd=repo, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(duration * fraction)
        process.send_signal(which)
        process.wait(timeout=120)
        repos.append(repo)
    return repos


FRACTIONS = [0.2, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]


@pytest.mark.parametrize("which", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_a_killed_run_leaves_only_whole_files(tmp_path: Path, which: signal.Signals) -> None:
    expected = patched(tmp_path, WORKFLOW)
    states: set[str] = set()
    for repo in _kill_during_runs(tmp_path, which, FRACTIONS):
        for path in sorted((repo / ".github" / "workflows").iterdir()):
            if path.name.endswith(".ci-gocache.tmp"):
                # The new bytes are written to an unnamed file; a name exists only for the instant
                # between naming it and renaming it, and it is whole by then.
                assert which == signal.SIGKILL and path.read_bytes() == expected, path
                continue
            content = path.read_bytes()
            assert content in (WORKFLOW, expected), f"{path} is neither the original nor the patch"
            states.add("patched" if content == expected else "original")
        if which == signal.SIGTERM:
            assert not leftovers(repo)
    assert states, "no workflow was checked"


def test_a_file_gone_while_its_path_is_resolved_is_read_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`git checkout` replaces a file by removing it and writing a new one. A run that finds the
    name listed and then, a moment later, no file there (found once in the race above: a
    traceback, exit 1) starts that file over and patches what is there by then."""
    from click.testing import CliRunner

    from ci_gocache import filewrites
    from ci_gocache.cli import cli

    repo = make_repo(tmp_path / "repo", {"ci.yml": WORKFLOW})
    workflow = repo / ".github" / "workflows" / "ci.yml"
    real_exists = os.path.exists
    gone_once: list[str] = []

    def exists_during_a_checkout(path: object) -> bool:
        if str(path).endswith("ci.yml") and not gone_once:
            gone_once.append(str(path))
            return False  # removed: the new file is not written yet
        return real_exists(path)

    monkeypatch.setattr(filewrites.os.path, "exists", exists_during_a_checkout)
    previous = os.getcwd()
    os.chdir(repo)
    try:
        result = CliRunner().invoke(cli, ["patch"], catch_exceptions=False)
    finally:
        os.chdir(previous)
    assert gone_once, "the file never looked gone"
    assert result.exit_code == 0, result.output
    assert workflow.read_bytes() == patched(tmp_path, WORKFLOW)
