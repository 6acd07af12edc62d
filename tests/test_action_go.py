"""The action's own steps, run in bash with a GitHub-like environment, on a real Go module.

The fixture (tests/fixtures/action/module) needs github.com/google/uuid, github.com/pkg/errors
and golang.org/x/text from the Go module proxy. Every CI run happens on a "fresh runner": the
same GOMODCACHE and GOCACHE paths (so actions/cache's path-based version matches, as on
GitHub), emptied first. One cold run fills a cache store; each test then works on its own copy
of that store and its own emptied cache directories.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from ci_gocache.reporting.records import parse_records
from support.cachestore import CacheStore
from support.composite import ActionResult, Job, StepResult, main_action, save_action

FIXTURE = Path(__file__).parent / "fixtures" / "action" / "module"
DEPENDENCIES = ("github.com/google/uuid", "github.com/pkg/errors", "golang.org/x/text/unicode/norm", "golang.org/x/text/transform")
COMPILED_PACKAGE = re.compile(r"/compile\s.*?\s-p\s+(\S+)")


def remove_tree(path: Path) -> None:
    """rm -rf that also removes Go's read-only module cache."""
    if path.exists():
        subprocess.run(["chmod", "-R", "u+w", str(path)], check=True)
        shutil.rmtree(path)


@dataclass
class Run:
    job: Job
    restore: ActionResult
    build: StepResult
    save: ActionResult

    @property
    def records(self) -> dict[str, dict]:
        return {record["cache"]: record for record in parse_records(self.save.log)}


class Runner:
    """A runner machine reused by several CI runs: same paths, emptied for each run."""

    def __init__(self, home: Path, store: CacheStore, first_run: int = 1) -> None:
        self.home = home
        self.store = store
        self.count = first_run - 1

    def fresh_job(self, change=None, **job_options) -> Job:
        self.count += 1
        for name in ("gomod", "gobuild", "temp", "workspace"):
            remove_tree(self.home / name)
        workspace = self.home / "workspace"
        shutil.copytree(FIXTURE, workspace)
        if change is not None:
            change(workspace)
        env = {
            "GOMODCACHE": str(self.home / "gomod"),
            "GOCACHE": str(self.home / "gobuild"),
            "GOFLAGS": "-buildvcs=false",
            "GOTOOLCHAIN": "local",
        }
        job_options.setdefault("run_id", str(2000 + self.count))
        return Job(workspace, self.home / "temp", self.store, env=env, **job_options)

    def ci_run(self, change=None, build: str = "go build -x ./...", inputs: dict | None = None, **job_options) -> Run:
        job = self.fresh_job(change, **job_options)
        restore = job.use_action(main_action(), inputs)
        assert all(step.outcome != "failure" for step in restore.steps), restore.log
        built = job.run_shell(build)
        assert built.outcome == "success", built.stderr[-3000:]
        save = job.use_action(save_action())
        assert all(step.outcome != "failure" for step in save.steps), save.log
        return Run(job, restore, built, save)


def compiled_packages(build_output: str) -> set[str]:
    return set(COMPILED_PACKAGE.findall(build_output))


@pytest.fixture(scope="module")
def cold(tmp_path_factory) -> tuple[Run, Path]:
    base = tmp_path_factory.mktemp("cold")
    runner = Runner(base / "runner", CacheStore(base / "store"))
    run = runner.ci_run()
    yield run, base
    remove_tree(base / "runner")


@pytest.fixture
def warm_runner(cold, tmp_path) -> Runner:
    """A runner at the cold run's paths, with its own copy of the store the cold run filled."""
    _, base = cold
    store = CacheStore(base / "store").copy_to(tmp_path / "store")
    return Runner(base / "runner", store, first_run=100)


def test_cold_run_downloads_modules_misses_and_saves_both_caches(cold):
    run, _ = cold
    assert run.restore.outputs["module-hit"] == "miss"
    assert run.restore.outputs["build-hit"] == "miss"
    assert run.restore.outputs["cache-hit"] == "false"
    for module in ("github.com/google/uuid", "github.com/pkg/errors", "golang.org/x/text"):
        assert f"go: downloading {module} " in run.build.stderr
    assert compiled_packages(run.build.stderr) >= set(DEPENDENCIES)
    assert run.save.outputs["module-saved"] == "true"
    assert run.save.outputs["build-saved"] == "true"
    keys = {entry.key for entry in run.job.store.entries()}
    assert keys == {run.restore.outputs["module-key"], run.restore.outputs["build-key"]}
    records = run.records
    assert records["mod"]["hit"] == records["build"]["hit"] == "miss"
    assert records["mod"]["saved"] and records["build"]["saved"]
    assert records["build"]["key"] == run.restore.outputs["build-key"]
    assert records["mod"]["size_bytes"] > 1_000_000


def test_after_restore_the_module_cache_builds_with_the_proxy_off(warm_runner):
    job = warm_runner.fresh_job()
    restore = job.use_action(main_action())
    assert restore.outputs["module-hit"] == "exact"
    assert restore.outputs["module-matched-key"] == restore.outputs["module-key"]
    assert restore.outputs["cache-hit"] == "true"
    offline = job.run_shell("GOPROXY=off GOFLAGS=-mod=readonly go build ./... && GOPROXY=off go list -deps ./... | grep -c golang.org/x/text")
    assert offline.outcome == "success", offline.stderr
    assert "downloading" not in offline.stderr
    save = job.use_action(save_action())
    records = {record["cache"]: record for record in parse_records(save.log)}
    assert records["mod"]["hit"] == "exact"
    assert records["mod"]["saved"] is False
    assert "exact hit" in records["mod"]["save_reason"]


def test_source_only_change_restores_the_build_cache_partially_without_recompiling_dependencies(warm_runner):
    def edit_source(workspace: Path) -> None:
        main = workspace / "main.go"
        main.write_text(main.read_text().replace('greet.Hello("Zoë")', 'greet.Hello("Zoë"), "changed"'))

    run = warm_runner.ci_run(change=edit_source)
    assert run.restore.outputs["module-hit"] == "exact"
    assert run.restore.outputs["build-hit"] == "partial"
    cold_key = next(entry.key for entry in warm_runner.store.entries() if "-gobuild-" in entry.key and entry.created == 2)
    assert run.restore.outputs["build-matched-key"] == cold_key
    assert run.restore.outputs["build-matched-key"].startswith(run.restore.outputs["build-restore-keys"].splitlines()[0])
    compiled = compiled_packages(run.build.stderr)
    assert compiled == {"main"}, compiled
    assert not compiled & set(DEPENDENCIES)
    assert "go: downloading" not in run.build.stderr
    assert run.records["build"]["hit"] == "partial"
    assert run.records["build"]["saved"] is True


def test_trimming_drops_unused_entries_and_the_next_build_finds_everything_it_used(warm_runner):
    def drop_greet(workspace: Path) -> None:
        shutil.rmtree(workspace / "greet")
        (workspace / "main.go").write_text(
            'package main\n\nimport (\n\t"fmt"\n\n\t"example.com/fixture/ids"\n)\n\n'
            'func main() {\n\tfmt.Println(ids.New("trimmed"))\n}\n'
        )

    first = warm_runner.ci_run(change=drop_greet)
    assert first.restore.outputs["build-hit"] == "partial"
    record = first.records["build"]
    # x/text and the greet package are no longer built: their entries were not used.
    assert int(first.save.outputs["trimmed-entries"]) == record["trimmed_entries"] > 0
    assert record["trimmed_bytes"] > 100_000
    assert record["saved_bytes"] < record["restored_bytes"]
    summary = first.job.summary.read_text()
    assert f"{record['trimmed_entries']} entries" in summary
    cold_build = next(entry for entry in warm_runner.store.entries() if "-gobuild-" in entry.key and entry.created == 2)
    trimmed_build = warm_runner.store.entries()[-1]
    assert trimmed_build.key == first.restore.outputs["build-key"]
    assert trimmed_build.size < cold_build.size

    second = warm_runner.ci_run(change=drop_greet)
    assert second.restore.outputs["build-matched-key"] == first.restore.outputs["build-key"]
    assert compiled_packages(second.build.stderr) == set()
    assert second.records["build"]["hit"] == "partial"


def test_pull_request_runs_restore_and_report_but_never_save(warm_runner):
    before = warm_runner.store.entries()
    run = warm_runner.ci_run(
        event_name="pull_request", ref="refs/pull/7/merge", inputs={"save": "always"}, build="go build ./..."
    )
    assert run.restore.outputs["module-hit"] == "exact"
    assert run.save.outputs["module-saved"] == run.save.outputs["build-saved"] == "false"
    assert warm_runner.store.entries() == before
    assert run.records["build"]["save_reason"] == "pull_request runs never save"
    assert "pull_request runs never save" in run.job.summary.read_text()
