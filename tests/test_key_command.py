"""`ci-gocache key`: the action's keys, printed locally, and why a cache would miss."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from support.cli import run_cli

FIXTURE = Path(__file__).parent / "fixtures" / "action" / "module"
NEW_MODULE_LINES = (
    "golang.org/x/sync v0.10.0 h1:3NQrjDixjgGwUOCaF8w2+VYHv0Ve/vGYSbdkTa98gmQ=\n"
    "golang.org/x/sync v0.10.0/go.mod h1:Czt+wKu1gCyEFDUtn0jG5QVvpJ6rzVqr5aXyt9drQfk=\n"
)


def _git(repo: Path, *args: str) -> str:
    completed = subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        capture_output=True, text=True, check=True,
    )
    return completed.stdout.strip()


def _key_json(directory: Path, *args: str) -> dict:
    completed = run_cli("key", str(directory), "--os", "Linux", "--arch", "X64", "--go-version", "go1.23.4",
                        "--job", "build", "--run", "5-1", "--format", "json", *args)
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)


@pytest.fixture
def history(tmp_path) -> tuple[Path, str, str]:
    """A repository whose go.sum gained a module in its second commit."""
    repo = tmp_path / "repo"
    shutil.copytree(FIXTURE, repo)
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "first dependencies")
    first = _git(repo, "rev-parse", "HEAD")
    old_keys = _key_json(repo)
    with (repo / "go.sum").open("a") as handle:
        handle.write(NEW_MODULE_LINES)
    _git(repo, "commit", "-q", "-am", "add golang.org/x/sync")
    return repo, first, old_keys["module"]["key"]


def test_text_output_lists_sum_files_and_keys():
    completed = run_cli("key", str(FIXTURE), "--os", "Linux", "--arch", "X64", "--go-version", "go1.23.4", "--job", "build", "--run", "5-1")
    assert completed.returncode == 0, completed.stderr
    assert "go.sum files (1):\n  go.sum  " in completed.stdout
    assert "module key:   gocache-v1-Linux-X64-gomod-" in completed.stdout
    assert "build key:    gocache-v1-Linux-X64-gobuild-go1.23.4-build.-" in completed.stdout


def test_previous_key_names_the_commit_and_the_go_sum_change(history):
    repo, first, old_key = history
    result = _key_json(repo, "--previous-key", old_key)
    explanation = result["explanations"][0]
    assert explanation["cache"] == "module"
    assert explanation["verdict"] == "partial"
    assert explanation["matched_restore_key"] == "gocache-v1-Linux-X64-gomod-"
    assert explanation["history"]["commit"] == first
    assert explanation["history"]["subject"] == "first dependencies"
    assert explanation["changed_files"] == {"go.sum": "+ golang.org/x/sync@v0.10.0"}
    text = run_cli("key", str(repo), "--os", "Linux", "--arch", "X64", "--previous-key", old_key).stdout
    assert f"the go.sum files at commit {first[:12]}" in text
    assert "changed: go.sum: + golang.org/x/sync@v0.10.0" in text


def test_previous_key_from_another_go_version_misses_the_build_cache(history):
    repo, _, _ = history
    current = _key_json(repo)
    other_go = current["build"]["key"].replace("-go1.23.4-", "-go1.22.0-")
    explanation = _key_json(repo, "--previous-key", other_go)["explanations"][0]
    assert explanation["verdict"] == "miss"
    assert "the Go version differs: now 'go1.23.4', the previous key has 'go1.22.0'" in explanation["reasons"][0]


def test_previous_build_key_of_an_earlier_run_is_the_warm_partial_case(history):
    repo, _, _ = history
    current = _key_json(repo)
    earlier_run = current["build"]["key"].replace("-5-1", "-4-1")
    explanation = _key_json(repo, "--previous-key", earlier_run)["explanations"][0]
    assert explanation["verdict"] == "partial"
    assert explanation["matched_restore_key"] == current["build"]["restore_keys"][0]
    assert "build keys end with the run id" in explanation["reasons"][0]


def test_previous_key_with_another_prefix_misses(history):
    repo, _, old_key = history
    explanation = _key_json(repo, "--previous-key", old_key.replace("gocache-v1", "gocache-v0"))["explanations"][0]
    assert explanation["verdict"] == "miss"
    assert "key prefix differs" in explanation["reasons"][0]


def test_previous_go_sum_lists_the_module_changes(history, tmp_path):
    repo, first, old_key = history
    old_sum = tmp_path / "old.sum"
    old_sum.write_text(_git(repo, "show", f"{first}:go.sum") + "\n")
    explanation = _key_json(repo, "--previous-sum", str(old_sum))["explanations"][0]
    assert explanation["verdict"] == "partial"
    assert explanation["previous_key"] == old_key
    assert explanation["changed_files"] == {"go.sum": "+ golang.org/x/sync@v0.10.0"}
    same = _key_json(repo, "--previous-sum", f"go.sum={repo / 'go.sum'}")["explanations"][0]
    assert same["verdict"] == "exact"


def test_bad_input_exits_2_with_a_located_message(tmp_path):
    missing = run_cli("key", str(tmp_path / "nope"))
    assert missing.returncode == 2
    assert missing.stderr.startswith(f"{tmp_path / 'nope'}:1:1: no such directory")
    unreadable = run_cli("key", str(FIXTURE), "--previous-sum", str(tmp_path / "gone.sum"))
    assert unreadable.returncode == 2
    assert f"{tmp_path / 'gone.sum'}:1:1: cannot read the previous go.sum" in unreadable.stderr
    not_a_key = run_cli("key", str(FIXTURE), "--previous-key", "node-modules-abc")
    assert not_a_key.returncode == 2
    assert "is not a ci-gocache module or build key" in not_a_key.stderr
    assert "Traceback" not in missing.stderr + unreadable.stderr + not_a_key.stderr


def _module_with_go_sum(tmp_path: Path, make_go_sum) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    (root / "go.mod").write_text("module example.com/m\n\ngo 1.22\n")
    make_go_sum(root / "go.sum", tmp_path)
    return root


@pytest.mark.parametrize(
    "make_go_sum, message",
    [
        (lambda path, tmp: os.mkfifo(path), "is not a regular file (a FIFO, a device or a socket)"),
        (lambda path, tmp: path.symlink_to("/dev/zero"), "is not a regular file (a FIFO, a device or a socket)"),
        (lambda path, tmp: path.symlink_to(tmp / "gone.sum"), "a link to a missing file"),
        (lambda path, tmp: (tmp.joinpath("dir").mkdir(), path.symlink_to(tmp / "dir")), "is a directory (or a link to one)"),
    ],
    ids=["fifo", "dev-zero", "dangling-link", "link-to-directory"],
)
def test_a_go_sum_that_is_not_a_regular_file_exits_2_without_hanging(tmp_path, make_go_sum, message):
    root = _module_with_go_sum(tmp_path, make_go_sum)
    completed = run_cli("key", str(root), "--go-version", "go1.23.4", timeout=60)
    assert completed.returncode == 2
    assert completed.stderr.startswith(f"{root / 'go.sum'}:1:1: {message}")
    assert "Traceback" not in completed.stderr and completed.stdout == ""


def test_a_bad_modules_glob_exits_2_with_a_message(tmp_path):
    completed = run_cli("key", str(FIXTURE), "--modules", "a[z-a]", "--go-version", "go1.23.4")
    assert completed.returncode == 2
    assert completed.stderr.startswith("a[z-a]:1:1: not a valid glob")
    assert "Traceback" not in completed.stderr


@pytest.mark.parametrize("gotoolchain", ["auto", "local"])
def test_without_go_version_the_key_has_the_go_the_job_runs_and_nothing_is_downloaded(tmp_path, gotoolchain):
    """`key` works the Go version out as the action does: `go env` with GOTOOLCHAIN=local, raised
    to what go.mod asks for when GOTOOLCHAIN allows a switch. Asking never downloads a toolchain
    (the module cache stays empty, and the proxy is off so an attempt would fail)."""
    repo = tmp_path / "repo"
    shutil.copytree(FIXTURE, repo)
    go_mod = repo / "go.mod"
    go_mod.write_text(go_mod.read_text().replace("go 1.22\n", "go 1.99.0\n"))
    module_cache = tmp_path / "modcache"
    env = {**os.environ, "GOTOOLCHAIN": gotoolchain, "GOMODCACHE": str(module_cache), "GOPROXY": "off", "GOFLAGS": ""}
    local = subprocess.run(
        ["go", "env", "GOVERSION"], env={**env, "GOTOOLCHAIN": "local"}, capture_output=True, text=True, check=True
    ).stdout.strip()
    completed = subprocess.run(
        [sys.executable, "-m", "ci_gocache", "key", str(repo), "--format", "json"],
        env=env, capture_output=True, text=True, timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    expected = "go1.99.0" if gotoolchain == "auto" else local
    assert json.loads(completed.stdout)["parts"]["go_version"] == expected
    assert not module_cache.exists() or not any(module_cache.rglob("*"))
