"""A runner machine for the composite action's own steps (support/composite.py) on a real Go
module: the same GOMODCACHE and GOCACHE paths every run (as actions/cache versions caches by
path), emptied first, as a fresh GitHub runner is. The module (tests/fixtures/action/module)
needs github.com/google/uuid, github.com/pkg/errors and golang.org/x/text from the Go module proxy."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ci_gocache.reporting.records import parse_records
from support.cachestore import CacheStore
from support.composite import ActionResult, Job, StepResult, main_action, save_action

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "action" / "module"


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
