"""The workflow `ci-gocache init` writes, run under nektos/act against act's own cache server.

A repository gets its CI from `ci-gocache init`, then lives through three runs of the test job
(the vulncheck job needs vuln.go.dev, which is not reachable here): a cold push that saves both
caches, a source-only push that restores the modules exactly and downloads nothing, and a pull
request that restores and saves nothing. How act runs: tests/act/harness.py.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from act.harness import ActRun, ActRunner

WORKFLOW = ".github/workflows/go.yml"


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, ActRun]:
    runner = ActRunner(tmp_path_factory.mktemp("act-init"))
    runner.write_module()
    # The module's own hand-written workflow goes: this repository starts over with init.
    (runner.work_tree / ".github" / "workflows" / "ci.yml").unlink()
    emitted = subprocess.run(
        [sys.executable, "-m", "ci_gocache", "init", "."], cwd=runner.work_tree, capture_output=True, text=True, timeout=120
    )
    assert emitted.returncode == 0, emitted.stderr
    runner.commit("CI from ci-gocache init")
    found: dict[str, ActRun] = {}
    for name, change, event in (("cold", None, "push"), ("source", "source", "push"), ("pr", None, "pull_request")):
        if change:
            runner.apply(change)
            runner.commit(change)
        ref = "refs/heads/main" if event == "push" else "refs/pull/7/merge"
        run = runner.run(event, workflow=WORKFLOW, ref=ref, job="test")
        assert run.returncode == 0 and run.job_results == {"test": "success"}, run.log[-6000:]
        found[name] = run
    return found


def _go_downloads(run: ActRun) -> list[str]:
    """The modules the job's go commands fetched ("go: downloading M V" lines)."""
    return re.findall(r"go: downloading (\S+ \S+)", run.log)


def test_cold_push_downloads_the_modules_and_saves_both_caches(runs):
    cold = runs["cold"]
    assert cold.outputs("go-mod-cache").get("cache-hit") != "true"
    assert "github.com/rivo/uniseg v0.4.7" in _go_downloads(cold)
    assert len(cold.saved_keys()) == 2
    assert "-gomod-" in cold.saved_keys()[0] and "-gobuild-" in cold.saved_keys()[1]


def test_source_only_push_restores_modules_exactly_and_downloads_nothing(runs):
    source = runs["source"]
    assert source.outputs("go-mod-cache")["cache-hit"] == "true"
    assert source.outputs("go-build-cache").get("cache-matched-key")
    assert _go_downloads(source) == []
    # The module cache hit exactly: only the build cache is saved again.
    assert len(source.saved_keys()) == 1 and "-gobuild-" in source.saved_keys()[0]


def test_pull_request_restores_and_saves_nothing(runs):
    pr = runs["pr"]
    assert pr.outputs("go-mod-cache")["cache-hit"] == "true"
    assert pr.saved_keys() == []
