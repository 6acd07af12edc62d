"""The ci-gocache action used directly in a workflow, run under nektos/act.

The workflow is the one a user writes by hand from docs/action.md: the action after setup-go
with the matrix value as an extra key part, the build, then ci-gocache/save. Its job is a
matrix of two (GOARCH amd64 and 386); act would run them in parallel with one HOME (see
tests/act/harness.py), so each matrix job is its own `act --matrix` call on a fresh runner,
one after the other.
A last run pushes a new dependency while the cache service refuses every save.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from act.harness import ACTION_REF, ACTION_REPOSITORY, ActRun, ActRunner

WORKFLOW = f"""\
name: ci
on:
  push:
  pull_request:
jobs:
  build:
    runs-on: ubuntu-latest
    strategy:
      matrix:
        goarch: [amd64, "386"]
    env:
      GOARCH: ${{{{ matrix.goarch }}}}
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-go@v5
        with:
          go-version-file: go.mod
          cache: false
      - id: go-cache
        uses: {ACTION_REPOSITORY}@{ACTION_REF}
        with:
          extra-key-parts: ${{{{ matrix.goarch }}}}
          # every changed build cache is saved, so the refused run below tries both saves
          build-save-min-change: '0'
      - name: Download modules
        run: go mod download -x
      - name: Build
        run: go build -x ./...
      - id: go-cache-save
        if: ${{{{ !cancelled() }}}}
        uses: {ACTION_REPOSITORY}/save@{ACTION_REF}
"""


@dataclass
class MatrixHistory:
    amd64: ActRun
    i386: ActRun
    refused: ActRun
    first_tree: Path  # the work tree at the matrix run's commit


@pytest.fixture(scope="module")
def matrix_history(tmp_path_factory) -> MatrixHistory:
    # One runner: GitHub's runners all have HOME=/home/runner, and actions/cache versions a
    # cache by its paths. Each run empties Go's directories first (a fresh runner).
    runner = ActRunner(tmp_path_factory.mktemp("act-action"))
    runner.write_module()
    (runner.work_tree / ".github" / "workflows" / "ci.yml").write_text(WORKFLOW)
    runner.commit("cache Go with ci-gocache")
    first = runner.run(matrix="goarch:amd64")
    runner.run_count -= 1  # one workflow run: both matrix jobs have its run id
    second = runner.run(matrix="goarch:386")
    for run in (first, second):
        assert run.returncode == 0 and run.job_results == {"build": "success"}, run.log[-6000:]
    first_tree = runner.root / "first-commit"
    shutil.copytree(runner.work_tree, first_tree, ignore=shutil.ignore_patterns(".git"))
    # Next push: a new dependency, while the cache service refuses every request once the
    # restores are done (act's cache server cannot reach its database).
    runner.apply("bump")
    runner.commit("bump")
    refused = runner.run(matrix="goarch:amd64", refuse_saves_after="Run Main Build")
    assert refused.returncode == 0, refused.log[-6000:]
    return MatrixHistory(first, second, refused, first_tree)


def test_each_matrix_job_keeps_its_own_build_cache_and_the_module_cache_is_shared(matrix_history):
    first, second = matrix_history.amd64, matrix_history.i386
    first_keys, second_keys = first.outputs("go-cache", "keys"), second.outputs("go-cache", "keys")
    assert first_keys["module-key"] == second_keys["module-key"]
    # The legs differ only in env (GOARCH); extra-key-parts tells them apart here (under act the
    # action sees no matrix context), and no restore key of one matches the other's key.
    assert first_keys["build-key"] != second_keys["build-key"]
    for restore in first_keys["build-restore-keys"].splitlines():
        assert not second_keys["build-key"].startswith(restore)
    assert first.records()["mod"]["hit"] == first.records()["build"]["hit"] == "miss"
    assert first.saved_keys() == [first_keys["module-key"], first_keys["build-key"]]
    # The second job finds the modules the first one saved and saves only its own build cache.
    assert second.records()["mod"]["hit"] == "exact"
    assert second.records()["build"]["hit"] == "miss"
    assert second.downloaded_modules() == set()
    assert "runtime" in second.compiled_packages()
    assert second.saved_keys() == [second_keys["build-key"]]


def test_matrix_keys_are_those_ci_gocache_key_prints_with_the_extra_part(matrix_history):
    keys = matrix_history.i386.outputs("go-cache", "keys")
    # nektos/act 0.2.89 hands composite steps an empty `matrix` context (GitHub's runner hands
    # them the leg: its action schema lists `matrix` for step env), so under act the scope is
    # the extra part alone: what `ci-gocache key` prints without --matrix.
    completed = subprocess.run(
        [sys.executable, "-m", "ci_gocache", "key", str(matrix_history.first_tree), "--format", "json", "--os", "Linux",
         "--arch", "X64", "--job", "build", "--run", "1001-1", "--extra", "386"],
        capture_output=True, text=True, timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    printed = json.loads(completed.stdout)
    assert printed["module"]["key"] == keys["module-key"]
    assert printed["module"]["restore_keys"] == keys["module-restore-keys"].splitlines()
    assert printed["build"]["key"] == keys["build-key"]
    assert printed["build"]["restore_keys"] == keys["build-restore-keys"].splitlines()


def test_action_outputs_match_the_run_records(matrix_history):
    run = matrix_history.amd64
    keys, restored, saved = run.outputs("go-cache", "keys"), run.outputs("go-cache", "restored"), run.outputs("go-cache-save", "report")
    records = run.records()
    assert records["mod"]["key"] == keys["module-key"]
    assert records["build"]["key"] == keys["build-key"]
    assert restored["module-hit"] == records["mod"]["hit"]
    assert restored["build-hit"] == records["build"]["hit"]
    assert saved["module-saved"] == "true" and records["mod"]["saved"] is True
    assert saved["build-saved"] == "true" and records["build"]["saved"] is True


def test_a_refused_save_is_reported_as_not_saved(matrix_history):
    """actions/cache only warns when the cache service refuses a save, and the step succeeds;
    the action must report what really happened, not the step's outcome."""
    run = matrix_history.refused
    assert run.records()["mod"]["hit"] == "partial"
    assert run.downloaded_modules() == {"golang.org/x/mod@v0.22.0"}
    assert run.saved_keys() == []
    refusals = [warning for warning in run.warnings() if "Failed to save" in warning]
    assert len(refusals) == 2, run.warnings()
    outputs = run.outputs("go-cache-save", "report")
    assert outputs["module-saved"] == "false"
    assert outputs["build-saved"] == "false"
    assert {record["saved"] for record in run.records().values()} == {False}
