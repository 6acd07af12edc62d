"""Patched workflows run end to end under nektos/act, against act's own cache server.

For each style of `ci-gocache patch` (`--style steps`, `--style action`), one repository lives
through a shortened version of the bench's history, each commit one CI run on a fresh runner:

    cold       first push: everything misses, both caches are saved
    source     a source-only change: modules restored exactly, the build cache partially
    bump       a new dependency: modules come back through the restore key, one module downloaded
    pr         a pull request: restores, saves nothing
    rerun      (action style) the same commit pushed again: nothing rebuilt; the build cache is
               saved once more, without what only the bump's run used
    rerun-again  (action style) and once more: nothing changed, nothing saved
    thin       (action style) a small source change with build-save-min-change: '20%': the build
               cache is not uploaded again (until then the history pins it to '0', so that every
               changed build cache is saved and each run shows its own trim and save)

The history runs once per style (a module-scoped fixture); each test asserts one thing of it,
from act's log: the step outputs act records, actions/cache's log lines, the action's run
records, `go mod download -x` (modules fetched) and `go build -x` (packages compiled).
How act runs and what stands in for the actions: tests/act/harness.py, docs/development.md.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from act.harness import (
    ACT_VERSION,
    ACTION_REF,
    ACTION_REPOSITORY,
    ACTION_VERSION,
    ActRun,
    ActRunner,
    act_version,
    dangling_build_cache_references,
)

# The module's own packages a change touches, as `go build -x` names them (-p).
MAIN = "main"
GREET = "example.com/actdemo/greet"
WIDTH = "example.com/actdemo/width"
VERSION = "example.com/actdemo/version"
UNISEG_MODULE = "github.com/rivo/uniseg@v0.4.7"
X_MOD_MODULE = "golang.org/x/mod@v0.22.0"


@dataclass
class History:
    style: str
    runner: ActRunner
    runs: dict[str, ActRun] = field(default_factory=dict)
    # Action entries of the build cache left on the runner after each run (what was saved)
    # whose output file is missing.
    dangling: dict[str, list[str]] = field(default_factory=dict)
    # `ci-gocache key --format json` in the work tree at each run's commit.
    cli_keys: dict[str, dict] = field(default_factory=dict)

    def record(self, run: str, cache: str) -> dict:
        return self.runs[run].records()[cache]


def patch(work_tree: Path, style: str) -> None:
    args = ["--style", style]
    if style == "action":
        args += ["--action-repository", ACTION_REPOSITORY, "--action-ref", ACTION_REF, "--action-version", ACTION_VERSION]
    completed = subprocess.run(
        [sys.executable, "-m", "ci_gocache", "patch", *args], cwd=work_tree, capture_output=True, text=True, timeout=120
    )
    assert completed.returncode == 0, completed.stderr
    assert "patched (jobs: build)" in completed.stdout


def cli_keys(work_tree: Path, run_id: int) -> dict:
    completed = subprocess.run(
        [sys.executable, "-m", "ci_gocache", "key", "--format", "json", "--job", "build", "--os", "Linux", "--arch", "X64", "--run", f"{run_id}-1"],
        cwd=work_tree, capture_output=True, text=True, timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)


SAVE_EVERY_CHANGE = "          build-save-min-change: '0'\n"
# This module's build cache holds about 140 entries, mostly the standard library's: a change to
# greet (its compile, main's and the link) is about 5% of them, at the default's edge.
SAVE_ON_LARGER_CHANGES = "          build-save-min-change: '20%'\n"
GREET_TWEAK = 'package greet\n\n// Hello greets name, warmly.\nfunc Hello(name string) string {\n\treturn "hello again, " + name\n}\n'


def set_build_save_min_change(work_tree: Path, line: str) -> None:
    """Set build-save-min-change (one `with:` line) in the patched workflow's ci-gocache step."""
    workflow = work_tree / ".github" / "workflows" / "ci.yml"
    text = workflow.read_text()
    if SAVE_EVERY_CHANGE in text:
        text = text.replace(SAVE_EVERY_CHANGE, line)
    else:
        assert "          save: auto\n" in text, text
        text = text.replace("          save: auto\n", "          save: auto\n" + line, 1)
    workflow.write_text(text)


def live_through_history(runner: ActRunner, style: str) -> History:
    history = History(style, runner)
    runner.write_module()
    patch(runner.work_tree, style)
    if style == "action":
        set_build_save_min_change(runner.work_tree, SAVE_EVERY_CHANGE)
    runner.commit("cache Go with ci-gocache")
    steps = [("cold", None, "push"), ("source", "source", "push"), ("bump", "bump", "push"), ("pr", None, "pull_request")]
    if style == "action":
        steps += [("rerun", None, "push"), ("rerun-again", None, "push"), ("thin", "thin", "push")]
    for name, change, event in steps:
        if change == "thin":
            set_build_save_min_change(runner.work_tree, SAVE_ON_LARGER_CHANGES)
            (runner.work_tree / "greet" / "greet.go").write_text(GREET_TWEAK)
            runner.commit(change)
        elif change:
            runner.apply(change)
            runner.commit(change)
        ref = "refs/heads/main" if event == "push" else "refs/pull/7/merge"
        history.cli_keys[name] = cli_keys(runner.work_tree, 1000 + runner.run_count + 1)
        run = runner.run(event, ref=ref)
        assert run.returncode == 0 and run.job_results == {"build": "success"}, run.log[-6000:]
        history.runs[name] = run
        history.dangling[name] = dangling_build_cache_references(runner.build_cache_dir())
    return history


@pytest.fixture(scope="module")
def history_of(tmp_path_factory):
    """The history of one style, lived through once for the whole module."""
    histories: dict[str, History] = {}

    def get(style: str) -> History:
        if style not in histories:
            histories[style] = live_through_history(ActRunner(tmp_path_factory.mktemp(f"act-{style}")), style)
        return histories[style]

    return get


@pytest.fixture(params=["steps", "action"])
def history(request, history_of) -> History:
    return history_of(request.param)


@pytest.fixture
def action_history(history_of) -> History:
    return history_of("action")


def hits(history: History, run: str) -> dict[str, str]:
    """How each cache was restored in a run: exact, partial or miss.

    Steps style: from actions/cache's own outputs (cache-hit, cache-matched-key). Action style:
    from the action's run records in the log, the hit report users read.
    """
    act_run = history.runs[run]
    if history.style == "action":
        return {cache: record["hit"] for cache, record in act_run.records().items()}
    found = {}
    for cache, step_id in (("mod", "go-mod-cache"), ("build", "go-build-cache")):
        outputs = act_run.outputs(step_id)
        if outputs.get("cache-hit") == "true":
            found[cache] = "exact"
        else:
            found[cache] = "partial" if outputs.get("cache-matched-key") else "miss"
    return found


def module_key(history: History, run: str) -> str:
    if history.style == "action":
        return history.record(run, "mod")["key"]
    return history.runs[run].outputs("go-mod-cache")["cache-primary-key"]


def build_key(history: History, run: str) -> str:
    if history.style == "action":
        return history.record(run, "build")["key"]
    return history.runs[run].outputs("go-build-cache")["cache-primary-key"]


def test_the_runner_is_act_at_the_pinned_version():
    assert act_version() == ACT_VERSION


def test_cold_push_misses_downloads_every_module_and_saves_both_caches(history):
    run = history.runs["cold"]
    assert hits(history, "cold") == {"mod": "miss", "build": "miss"}
    assert run.downloaded_modules() == {UNISEG_MODULE}
    assert {MAIN, GREET, WIDTH, "github.com/rivo/uniseg", "runtime"} <= run.compiled_packages()
    assert run.saved_keys() == [module_key(history, "cold"), build_key(history, "cold")]


def test_source_only_change_restores_modules_exactly_and_rebuilds_only_the_changed_packages(history):
    run = history.runs["source"]
    assert hits(history, "source") == {"mod": "exact", "build": "partial"}
    assert run.downloaded_modules() == set()
    assert run.compiled_packages() == {GREET, MAIN}
    # An exact module hit is not uploaded again; the build cache is (it gained the new objects).
    assert run.saved_keys() == [build_key(history, "source")]


def test_exact_module_hit_is_reported_exact_although_the_server_answers_in_lower_case(history):
    """act's cache server, like GitHub's, matches keys case-insensitively and answers with the
    key in lower case; actions/cache calls that an exact hit, and so must the hit report."""
    run = history.runs["source"]
    restored_module_key = run.restored_keys()[0]
    assert restored_module_key != module_key(history, "source")
    assert restored_module_key == module_key(history, "source").lower()
    if history.style == "action":
        outputs = run.outputs("go-cache", "restored")
        assert outputs["module-hit"] == "exact"
        assert outputs["cache-hit"] == "true"
        assert history.record("source", "mod")["saved"] is False
    else:
        assert run.outputs("go-mod-cache")["cache-hit"] == "true"


def test_dependency_bump_restores_modules_by_restore_key_and_downloads_only_the_new_module(history):
    run = history.runs["bump"]
    assert hits(history, "bump") == {"mod": "partial", "build": "partial"}
    assert run.restored_keys()[0] == module_key(history, "cold").lower()
    assert run.downloaded_modules() == {X_MOD_MODULE}
    compiled = run.compiled_packages()
    assert {VERSION, "golang.org/x/mod/semver", MAIN} <= compiled
    assert not compiled & {GREET, WIDTH, "github.com/rivo/uniseg", "runtime"}
    assert run.saved_keys() == [module_key(history, "bump"), build_key(history, "bump")]
    assert module_key(history, "bump") != module_key(history, "cold")


def test_pull_request_restores_both_caches_and_saves_nothing(history):
    run = history.runs["pr"]
    assert hits(history, "pr") == {"mod": "exact", "build": "partial"}
    assert run.downloaded_modules() == set()
    assert run.compiled_packages() == set()
    assert run.saved_keys() == []
    if history.style == "action":
        assert {record["saved"] for record in run.records().values()} == {False}
        assert "pull_request runs never save" in run.summaries()[-1]


def test_rerun_without_change_rebuilds_nothing_and_saves_nothing(action_history):
    """setup-go's `go env` and the action's own go calls write build-cache entries before the
    restore; they are not changes, so a rerun of an unchanged commit, after a run of that same
    commit, uploads nothing. (The steps style saves the build cache under a new key on every
    push to the default branch.)"""
    history = action_history
    assert history.runs["rerun"].compiled_packages() == set()
    run = history.runs["rerun-again"]
    assert hits(history, "rerun-again") == {"mod": "exact", "build": "partial"}
    assert run.compiled_packages() == set()
    assert run.saved_keys() == []
    record = history.record("rerun-again", "build")
    assert record["saved"] is False
    assert record["save_reason"].startswith("unchanged")


def test_a_small_change_does_not_upload_the_build_cache_again(action_history):
    """build-save-min-change: '20%': greet and what links it are a few entries of a cache mostly
    made of the standard library, so the save is skipped with a notice, and the next run would
    restore the same entry."""
    history = action_history
    run = history.runs["thin"]
    assert hits(history, "thin") == {"mod": "exact", "build": "partial"}
    assert GREET in run.compiled_packages()
    assert run.saved_keys() == []
    record = history.record("thin", "build")
    assert record["saved"] is False and 0 < record["new_entries"]
    assert record["save_reason"].startswith(f"thinned: {record['new_entries']} new and ")
    assert f"build cache not saved: this job added {record['new_entries']} entries" in run.log
    assert run.outputs("go-cache-save", "report")["build-saved"] == "false"


def test_trimmed_build_cache_keeps_every_output_a_kept_entry_names(history):
    for run, missing in history.dangling.items():
        assert missing == [], f"{run}: {len(missing)} entries name a missing output: {missing[:5]}"


def test_action_keys_hashfiles_and_ci_gocache_key_agree(history):
    """The keys the workflow used (act's hashFiles() in the steps style, the action's runtime in
    the action style) are those `ci-gocache key` prints for the commit: on the cold run, the keys
    actions/cache tried (primary, then restore keys) for each cache; after the bump, the new keys."""
    cold = history.cli_keys["cold"]
    assert history.runs["cold"].missed_keys() == [
        [cold["module"]["key"], *cold["module"]["restore_keys"]],
        [cold["build"]["key"], *cold["build"]["restore_keys"]],
    ]
    bump = history.cli_keys["bump"]
    assert module_key(history, "bump") == bump["module"]["key"]
    assert build_key(history, "bump") == bump["build"]["key"]
    assert bump["module"]["key"] != cold["module"]["key"]


def test_trim_drops_entries_the_job_did_not_use_and_the_next_build_finds_everything(action_history):
    """The source change replaces greet's compiled object: the old one is not used and goes.
    The rerun restores what the trimmed bump run saved and compiles nothing."""
    history = action_history
    source = history.runs["source"]
    trimmed = history.record("source", "build")["trimmed_entries"]
    assert trimmed > 0
    assert source.outputs("go-cache-save", "report")["trimmed-entries"] == str(trimmed)
    assert history.runs["rerun"].restored_keys()[1] == build_key(history, "bump").lower()
    assert history.runs["rerun"].compiled_packages() == set()
