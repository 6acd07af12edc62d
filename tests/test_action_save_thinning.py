"""Build-save thinning (input build-save-min-change): a restored build cache that the job changed
little is not uploaded again, and skipped changes add up until a run saves.

Each test runs the action's own steps (support/composite.py) on a fresh runner against one cache
store, with real entry files in a temporary GOCACHE: the restored entries the "build" uses get
their mtime refreshed, as Go refreshes them, and new entries are written beside them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from ci_gocache.action import runtime as action_runtime
from ci_gocache.reporting.records import parse_records
from support.cachestore import CacheStore
from support.composite import Job, main_action, save_action

FIXTURE = Path(__file__).parent / "fixtures" / "action" / "module"
RESTORED = 200  # entries in the seeded build cache: the default 5% is 10 entries


def _entry_name(tag: str, index: int) -> str:
    """A `-d` entry name in its `xx/` subdirectory, distinct per tag and index."""
    digest = f"{index:04x}{tag.encode().hex()}".ljust(64, "0")[:64]
    return f"{digest}-d"


def _write_entry(cache: Path, name: str) -> None:
    path = cache / name[:2] / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"output " + name.encode())


class Runner:
    """Fresh runners, one per CI run, sharing one cache store and one checkout."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.store = CacheStore(tmp_path / "store")
        self.workspace = tmp_path / "workspace"
        shutil.copytree(FIXTURE, self.workspace)
        self.runs = 0

    def job(self) -> Job:
        """A fresh runner: empty caches at the same paths (the store matches entries by path)."""
        self.runs += 1
        for name in ("gomod", "gobuild", "temp"):
            if (self.tmp_path / name).exists():
                subprocess.run(["chmod", "-R", "u+w", str(self.tmp_path / name)], check=True)
                shutil.rmtree(self.tmp_path / name)
        env = {"GOMODCACHE": str(self.tmp_path / "gomod"), "GOCACHE": str(self.tmp_path / "gobuild"), "GOTOOLCHAIN": "local"}
        return Job(self.workspace, self.tmp_path / "temp", self.store, env=env, run_id=str(1000 + self.runs))

    def seed(self, names: list[str]) -> None:
        """Save a build cache holding `names` under the job's scope restore key, as an earlier run did."""
        job = self.job()
        prefix = job.use_action(main_action(), stop_after="keys").outputs["build-restore-keys"].splitlines()[-1]
        cache = Path(job.env["GOCACHE"])
        for name in names:
            _write_entry(cache, name)
        self.store.save({"path": str(cache), "key": prefix + "seed"})

    def run(self, new: list[str], unused: int = 0, inputs: dict[str, str] | None = None) -> tuple[dict, dict, str]:
        """One CI run: restore, a "build" that uses every restored entry but `unused` of them and
        writes `new`, then save. Returns the build record, the save outputs and the log."""
        job = self.job()
        restore = job.use_action(main_action(), inputs or {})
        assert all(step.outcome != "failure" for step in restore.steps), restore.log
        cache = Path(job.env["GOCACHE"])
        now = time.time()
        restored = sorted(path for path in cache.glob("??/*-d"))
        for path in restored[unused:]:
            os.utime(path, (now, now))  # used: Go refreshes an entry older than an hour
        for name in new:
            _write_entry(cache, name)
        save = job.use_action(save_action())
        assert all(step.outcome != "failure" for step in save.steps), save.log
        build = next(record for record in parse_records(save.log) if record["cache"] == "build")
        return build, save.outputs, restore.log + save.log


@pytest.fixture
def runner(tmp_path: Path) -> Runner:
    made = Runner(tmp_path)
    made.seed([_entry_name("seed", index) for index in range(RESTORED)])
    return made


def test_few_new_entries_skip_the_build_save_with_a_notice(runner):
    build, outputs, log = runner.run([_entry_name("push1", index) for index in range(3)])
    assert build["hit"] == "partial"
    assert outputs["build-saved"] == "false" and not build["saved"]
    assert build["new_entries"] == 3 and build["trimmed_entries"] == 0
    assert build["save_reason"].startswith("thinned: 3 new and 0 dropped of 200 restored entries")
    notice = next(line for line in log.splitlines() if line.startswith("::notice title=ci-gocache::build cache not saved"))
    assert "added 3 entries" in notice and "recompiles those 3 entries" in notice and "build-save-min-change 5%" in notice


def test_new_entries_at_the_threshold_save(runner):
    build, outputs, _ = runner.run([_entry_name("push1", index) for index in range(10)])
    assert build["new_entries"] == 10
    assert outputs["build-saved"] == "true" and build["saved"], build


def test_many_unused_entries_save_the_smaller_cache(runner):
    """Dropping unused entries counts as a change: skipping would restore them again every run."""
    build, outputs, _ = runner.run([_entry_name("push1", 0)], unused=20)
    assert build["trimmed_entries"] == 20 and build["new_entries"] == 1
    assert outputs["build-saved"] == "true", build


def test_a_miss_always_saves(tmp_path):
    runner = Runner(tmp_path)
    build, outputs, _ = runner.run([_entry_name("cold", 0)])
    assert build["hit"] == "miss" and outputs["build-saved"] == "true", build


@pytest.mark.parametrize("threshold, new, saved", [("0", 1, True), ("2", 2, True), ("2", 1, False), ("0.5%", 1, True)])
def test_the_threshold_is_a_share_or_a_count(runner, threshold, new, saved):
    build, outputs, _ = runner.run([_entry_name("push1", index) for index in range(new)], inputs={"build-save-min-change": threshold})
    assert (outputs["build-saved"] == "true") is saved, build


def test_skipped_changes_add_up_until_a_run_saves(runner):
    """Every run restores the seeded entry while saves are skipped, so each build writes again what
    the skipped runs wrote before it: the count grows 4, 8, 12 and the third run saves. The fourth
    restores that save and starts counting afresh."""
    pushes = [[_entry_name(f"push{number}", index) for index in range(4)] for number in range(1, 5)]
    seen: list[tuple[int, bool]] = []
    written: list[str] = []
    for push in pushes[:3]:
        written += push
        build, outputs, _ = runner.run(list(written))
        seen.append((build["new_entries"], outputs["build-saved"] == "true"))
    build, outputs, _ = runner.run(pushes[3])
    seen.append((build["new_entries"], outputs["build-saved"] == "true"))
    assert seen == [(4, False), (8, False), (12, True), (4, False)]
    assert build["matched_key"].endswith("-1004-1")  # the third run's save (runs 1 seeded, 2-4 built)


def test_a_bad_threshold_fails_the_restore_step_before_the_build(tmp_path):
    job = Runner(tmp_path).job()
    result = job.use_action(main_action(), {"build-save-min-change": "five"})
    step = result.step("restored")
    assert step.outcome == "failure"
    assert "::error title=ci-gocache::input build-save-min-change: expected a share of the restored entries" in step.stdout
    assert "Traceback" not in step.stderr


@pytest.mark.parametrize("text, expected", [("5%", (5.0, True)), (" 12 ", (12.0, False)), ("2.5 %", (2.5, True))])
def test_threshold_text(text, expected):
    assert action_runtime.parse_min_change(text) == expected


@pytest.mark.parametrize("text", ["", "-1", "101%", "5%%", "nan", "1e3"])
def test_threshold_text_that_is_refused(text):
    with pytest.raises(action_runtime.ActionError):
        action_runtime.parse_min_change(text)
