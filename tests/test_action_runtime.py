"""The action's runtime without a Go build: inputs, save policy, Windows drives, file commands, reports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ci_gocache import keys
from ci_gocache.action import goenv, report_phase, save_policy, summary, workflow_commands
from ci_gocache.reporting.records import parse_records
from support.cachestore import CacheStore
from support.composite import Job, main_action, read_file_command, save_action

FIXTURE = Path(__file__).parent / "fixtures" / "action" / "module"


@pytest.mark.parametrize(
    "policy, event, ref, expected",
    [
        ("auto", "push", "refs/heads/main", True),
        ("auto", "push", "refs/heads/feature", False),
        ("auto", "schedule", "refs/heads/main", False),
        ("push", "push", "refs/heads/feature", True),
        ("always", "schedule", "refs/heads/main", True),
        ("always", "workflow_dispatch", "refs/heads/feature", True),
        ("never", "push", "refs/heads/main", False),
        ("always", "pull_request", "refs/pull/1/merge", False),
        ("always", "pull_request_target", "refs/heads/main", False),
        ("always", "release", "refs/tags/v1.0.0", False),
        ("always", "push", "refs/tags/v1.0.0", False),
        # events a pull request can start write in the base branch's scope (issue 17 point 6)
        ("always", "workflow_run", "refs/heads/main", False),
        ("always", "issue_comment", "refs/heads/main", False),
        ("always", "merge_group", "refs/heads/gh-readonly-queue/main/pr-1-abc", False),
        ("always", "pull_request_review", "refs/pull/1/merge", False),
        ("always", "push", "refs/heads/feature", True),
        ("auto", "push", "refs/tags/v1.0.0", False),
    ],
)
def test_save_policy(policy, event, ref, expected):
    allowed, reason = save_policy.save_decision(policy, event, ref, "main")
    assert allowed is expected, reason


def test_auto_does_not_save_when_the_default_branch_is_unknown():
    allowed, reason = save_policy.save_decision("auto", "push", "refs/heads/main", "")
    assert not allowed and "default branch is unknown" in reason


@pytest.mark.parametrize(
    "env, current, expected",
    [
        ({"RUNNER_OS": "Windows", "RUNNER_TEMP": "D:\\a\\_temp"},
         {"GOMODCACHE": "C:\\Users\\runneradmin\\go\\pkg\\mod", "GOCACHE": "C:\\Users\\runneradmin\\AppData\\Local\\go-build"},
         {"GOMODCACHE": "D:\\a\\_temp\\ci-gocache\\go-mod", "GOCACHE": "D:\\a\\_temp\\ci-gocache\\go-build"}),
        # The user chose GOCACHE: only the module cache moves.
        ({"RUNNER_OS": "Windows", "RUNNER_TEMP": "D:\\a\\_temp", "GOCACHE": "C:\\mine"},
         {"GOMODCACHE": "C:\\Users\\runneradmin\\go\\pkg\\mod", "GOCACHE": "C:\\mine"},
         {"GOMODCACHE": "D:\\a\\_temp\\ci-gocache\\go-mod"}),
        # An image with one drive: nothing to gain.
        ({"RUNNER_OS": "Windows", "RUNNER_TEMP": "C:\\a\\_temp"},
         {"GOMODCACHE": "C:\\Users\\runneradmin\\go\\pkg\\mod", "GOCACHE": "C:\\Users\\runneradmin\\AppData\\Local\\go-build"},
         {}),
        ({"RUNNER_OS": "Linux", "RUNNER_TEMP": "/home/runner/work/_temp"},
         {"GOMODCACHE": "/home/runner/go/pkg/mod", "GOCACHE": "/home/runner/.cache/go-build"},
         {}),
    ],
)
def test_windows_caches_move_to_the_work_drive(env, current, expected):
    assert goenv.faster_drive_dirs(env, current) == expected


def _job(tmp_path: Path, **options) -> Job:
    workspace = tmp_path / "workspace"
    if not workspace.exists():
        import shutil

        shutil.copytree(FIXTURE, workspace)
    env = {"GOMODCACHE": str(tmp_path / "gomod"), "GOCACHE": str(tmp_path / "gobuild"), "GOTOOLCHAIN": "local"}
    env.update(options.pop("env", {}))
    return Job(workspace, tmp_path / "temp", CacheStore(tmp_path / "store"), env=env, **options)


def test_windows_runner_keys_step_exports_caches_on_the_work_drive(tmp_path):
    job = _job(tmp_path, runner_os="Windows", env={"RUNNER_TEMP": "D:\\a\\_temp"})
    del job.env["GOMODCACHE"], job.env["GOCACHE"]
    result = job.use_action(main_action(), stop_after="keys")
    assert result.step("keys").outcome == "success", result.log
    assert job.env["GOCACHE"] == "D:\\a\\_temp\\ci-gocache\\go-build"
    assert job.env["GOMODCACHE"] == "D:\\a\\_temp\\ci-gocache\\go-mod"
    assert result.outputs["build-cache-dir"] == job.env["GOCACHE"]
    assert result.outputs["module-key"].startswith("gocache-v1-Windows-X64-gomod-")


def test_keys_step_outputs_the_shared_key_layout(tmp_path):
    job = _job(tmp_path, run_id="77", run_attempt="2", job_id="test")
    result = job.use_action(main_action(), {"extra-key-parts": "1.22\nubuntu latest", "key-prefix": "team-v3"}, stop_after="keys")
    expected = keys.workspace_keys(
        FIXTURE, [], prefix="team-v3", os_name="Linux", arch="X64",
        go_version=result.outputs["go-version"], job="test", extra=["1.22", "ubuntu latest"], run="77-2",
    )
    assert result.outputs["module-key"] == expected.module_key
    assert result.outputs["build-key"] == expected.build_key
    assert result.outputs["build-key"].startswith(
        f"team-v3-Linux-X64-gobuild-{result.outputs['go-version']}-test.{keys.scope_digest('', ['1.22', 'ubuntu latest'])}-"
    )
    assert result.outputs["build-restore-keys"].splitlines() == expected.build_restore_keys
    assert result.outputs["module-restore-keys"] == "team-v3-Linux-X64-gomod-"


def test_matrix_legs_that_differ_only_in_env_get_their_own_build_key(tmp_path):
    """The action reads the caller's matrix context itself (issue 17 point 5): no input needed."""
    outputs = []
    for leg in ({"goarch": "amd64", "tags": "netgo,osusergo"}, {"goarch": "arm64", "tags": "netgo,osusergo"}):
        job = _job(tmp_path / leg["goarch"], job_id="test")
        job.matrix = leg
        outputs.append(job.use_action(main_action(), {}, stop_after="keys").outputs)
    first, second = outputs
    assert first["module-key"] == second["module-key"]
    assert first["build-key"] != second["build-key"]
    for output in outputs:
        assert "," not in output["build-key"] + output["build-restore-keys"]
    for restore in first["build-restore-keys"].splitlines():
        assert not second["build-key"].startswith(restore)


def test_modules_input_takes_directories_and_globs(tmp_path):
    job = _job(tmp_path)
    (job.workspace / "tools").mkdir()
    (job.workspace / "tools" / "go.mod").write_text("module example.com/tools\n\ngo 1.22\n")
    (job.workspace / "tools" / "go.sum").write_text("example.com/x v1.0.0 h1:abc=\n")
    both = job.use_action(main_action(), {"modules": "**/go.sum"}, stop_after="keys")
    root_only = job.use_action(main_action(), {"modules": "."}, stop_after="keys")
    listed = job.use_action(main_action(), {"modules": "., tools"}, stop_after="keys")
    assert both.outputs["module-key"] == listed.outputs["module-key"] != root_only.outputs["module-key"]
    assert "go.sum files (2): go.sum, tools/go.sum" in both.log


@pytest.mark.parametrize(
    "inputs, message",
    [
        ({"save": "sometimes"}, "input save: expected one of auto, push, always, never, got 'sometimes'"),
        ({"trim": "yes"}, "input trim: expected true or false, got 'yes'"),
        ({"key-prefix": "a,b"}, "input key-prefix: 'a,b' has a comma"),
    ],
)
def test_bad_inputs_fail_the_step_with_a_workflow_error(tmp_path, inputs, message):
    job = _job(tmp_path)
    result = job.use_action(main_action(), inputs)
    keys_step = result.step("keys")
    assert keys_step.outcome == "failure"
    assert "::error title=ci-gocache::" in keys_step.stdout and message in keys_step.stdout
    assert "Traceback" not in keys_step.stderr
    assert all(step.outcome == "skipped" for step in result.steps[1:])


def test_save_without_the_main_action_fails_with_a_clear_error(tmp_path):
    job = _job(tmp_path)
    result = job.use_action(save_action())
    assert result.step("prepare").outcome == "failure"
    assert "needs the ci-gocache action earlier in this job" in result.step("prepare").stdout
    assert result.step("report").outcome == "skipped"


def test_failed_job_is_not_trimmed(tmp_path):
    """A failed build may have stopped before using entries the next run needs: keep them."""
    job = _job(tmp_path)
    build_dir = tmp_path / "gobuild" / "ab"
    build_dir.mkdir(parents=True)
    (build_dir / ("ab" * 32 + "-d")).write_bytes(b"output")
    job.store.save({"path": str(tmp_path / "gobuild"), "key": "seed"})
    job.use_action(main_action(), {"key-prefix": "seed-never-matches"})
    # Restore the seeded cache through a restore key the action will look for.
    state = json.loads(Path(job.env["CI_GOCACHE_STATE"]).read_text())
    state["build"].update(hit="partial", matched_key="seed", backdate_stamp=0.0, restored_entries=1)
    Path(job.env["CI_GOCACHE_STATE"]).write_text(json.dumps(state))
    job.status = "failure"
    result = job.use_action(save_action())
    records = {record["cache"]: record for record in parse_records(result.log)}
    assert records["build"]["trimmed_entries"] == 0
    assert records["build"]["trim_skipped"] == "not trimmed: the job status is failure"
    assert (build_dir / ("ab" * 32 + "-d")).exists()


def test_multiline_outputs_use_heredocs_the_runner_reads(tmp_path):
    output = tmp_path / "out"
    workflow_commands.set_outputs({"GITHUB_OUTPUT": str(output)}, {"one": "a", "many": "x-\ny-"})
    assert read_file_command(output) == {"one": "a", "many": "x-\ny-"}


def test_report_writes_a_summary_table_and_one_record_per_cache():
    state = {
        "go_version": "go1.23.4",
        "sum_files": ["go.sum"],
        "module": {"key": "p-Linux-X64-gomod-abc", "restore_keys": ["p-Linux-X64-gomod-"], "hit": "exact",
                   "matched_key": "p-Linux-X64-gomod-abc", "restore_seconds": 1.5, "restored_bytes": 2048,
                   "saved": False, "save_reason": "exact hit: the key already holds these modules"},
        "build": {"enabled": True, "key": "p-b-1", "restore_keys": ["p-b-"], "hit": "partial", "matched_key": "p-b-0",
                  "restore_seconds": 0.5, "restored_bytes": 10 << 20, "saved": True, "save_seconds": 2.0,
                  "saved_bytes": 8 << 20, "trimmed_entries": 12, "trimmed_bytes": 2 << 20, "save_reason": "push"},
    }
    env = {"GITHUB_JOB": "test", "GITHUB_RUN_ID": "9", "RUNNER_OS": "Linux", "RUNNER_ARCH": "X64", "GITHUB_REF": "refs/heads/main"}
    records = report_phase.build_records(state, env)
    assert [record["cache"] for record in records] == ["mod", "build"]
    assert records[1] | {"hit": "partial", "trimmed_entries": 12, "saved": True, "size_bytes": 8 << 20, "job": "test"} == records[1]
    markdown = summary.summary_markdown(state, records)
    assert "| modules | **exact** | `p-Linux-X64-gomod-abc` | `p-Linux-X64-gomod-abc` | 2.0 KiB | 1.5 s | — | no: exact hit" in markdown
    assert "| build | **partial** | `p-b-1` | `p-b-0` | 10.0 MiB | 0.5 s | 12 entries, 2.0 MiB | yes, 8.0 MiB in 2.0 s |" in markdown
