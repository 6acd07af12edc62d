"""Keys and save conditions the GitHub patcher writes (raw `steps` style), run as the runner would.

The locate step runs in bash with the real `go`; the `${{ }}` expressions of keys and `if:`
conditions are evaluated by the composite-action runner's evaluator (tests/support/composite.py).
"""

from __future__ import annotations

import json
import re
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from ci_gocache import keys
from support.composite import evaluate, interpolate
from support.hashfiles import hash_files

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "github"
MATRIX_COMMAS = FIXTURES / "matrix-commas"


def _steps(case: Path, workflow: str, job: str) -> dict[str, dict]:
    document = YAML(typ="safe").load((case / "expected" / ".github" / "workflows" / workflow).read_text())
    return {step.get("name", step.get("uses", "")): step for step in document["jobs"][job]["steps"]}


def _locate_outputs(step: dict, matrix: dict | None, tmp_path: Path, **runner_env: str) -> dict[str, str]:
    """The locate step's outputs; what it writes to GITHUB_ENV is left in tmp_path/env."""
    output = tmp_path / "output"
    output.write_text("")
    (tmp_path / "env").write_text("")
    go = shutil.which("go")
    assert go, "go is not on PATH (.ci/install-tools installs it)"
    env = {"PATH": os.path.dirname(go) + ":/usr/bin:/bin", "HOME": str(tmp_path), "GITHUB_OUTPUT": str(output),
           "GITHUB_ENV": str(tmp_path / "env"), "GOTOOLCHAIN": "local", **runner_env}
    for name, value in (step.get("env") or {}).items():
        env[name] = interpolate(str(value), {"matrix": matrix})
    subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]], env=env, check=True, cwd=tmp_path)
    return dict(line.split("=", 1) for line in output.read_text().splitlines())


def _contexts(event: str, ref: str, steps: dict | None = None, matrix: dict | None = None) -> dict:
    return {
        "github": {"event_name": event, "ref": ref, "job": "build", "run_id": "7", "run_attempt": "1",
                   "event": {"repository": {"default_branch": "main"}}},
        "runner": {"os": "Linux", "arch": "X64"},
        "steps": steps or {},
        "matrix": matrix,
    }


LEGS = [
    {"goarch": "amd64", "tags": "netgo,osusergo", "ldflags": "-s -w " + "x" * 600},
    {"goarch": "arm64", "tags": "netgo,osusergo"},
    {"goarch": "amd64", "tags": ""},
    {"goarch": "arm64", "tags": ""},
]


def test_matrix_legs_get_valid_build_keys_of_their_own(tmp_path):
    """Commas and long matrix values reach the key only as a digest (issue 10 point 9, 17 point 5)."""
    steps = _steps(MATRIX_COMMAS, "build.yml", "build")
    restore = steps["Restore Go build cache"]["with"]
    digest = keys.digest_files(MATRIX_COMMAS / "repo", ["go.sum"])
    built = []
    for index, leg in enumerate(LEGS):
        directory = tmp_path / str(index)
        directory.mkdir()
        outputs = _locate_outputs(steps["Locate Go caches"], leg, directory)
        assert outputs["matrix"] == keys.text_digest(json.dumps(leg, indent=2))
        contexts = _contexts("push", "refs/heads/main", {"go-cache-dirs": {"outputs": outputs}}, leg)
        key = interpolate(restore["key"].replace("${{ hashFiles('go.sum') }}", digest), contexts)
        restore_keys = [interpolate(line.replace("${{ hashFiles('go.sum') }}", digest), contexts) for line in restore["restore-keys"].splitlines()]
        for value in [key, *restore_keys]:
            assert keys.key_problem(value) is None, value
        built.append((key, restore_keys))
    for mine, (_, restore_keys) in enumerate(built):
        for other, (other_key, _) in enumerate(built):
            if mine != other:
                assert not any(other_key.startswith(prefix) for prefix in restore_keys), (LEGS[mine], LEGS[other])


@pytest.mark.parametrize(
    "event, ref, saves",
    [
        ("push", "refs/heads/main", True),
        ("push", "refs/heads/feature", True),
        ("schedule", "refs/heads/main", True),
        ("workflow_dispatch", "refs/heads/main", True),
        ("push", "refs/tags/v1.2.3", False),
        ("workflow_run", "refs/heads/main", False),
        ("issue_comment", "refs/heads/main", False),
        ("merge_group", "refs/heads/gh-readonly-queue/main/pr-7-abc", False),
        ("pull_request", "refs/pull/7/merge", False),
        ("pull_request_target", "refs/heads/main", False),
        ("schedule", "refs/pull/7/merge", False),
    ],
)
def test_save_on_always_saves_on_branch_pushes_and_schedules_only(event, ref, saves):
    """`--save-on always` never saves on events a pull request can start (issue 17 point 6)."""
    steps = _steps(MATRIX_COMMAS, "build.yml", "build")
    outputs = {"cache-hit": "false", "cache-primary-key": "k"}
    contexts = _contexts(event, ref, {"go-mod-cache": {"outputs": outputs}, "go-build-cache": {"outputs": outputs}})
    for name in ("Save Go module cache", "Save Go build cache"):
        condition = steps[name]["if"].strip()
        assert condition.startswith("${{") and condition.endswith("}}")
        assert bool(evaluate(condition[3:-2], contexts, {"failed": False})) is saves, (name, event, ref)


MODULE_LOOPS = FIXTURES / "module-loops"
HASH_FILES = re.compile(r"hashFiles\(((?:'(?:[^']|'')*'(?:,\s*)?)+)\)")


def _module_key_patterns(job: str) -> list[str]:
    key = _steps(MODULE_LOOPS, "ci.yml", job)["Restore Go module cache"]["with"]["key"]
    match = HASH_FILES.search(key)
    assert match, key
    return [literal.replace("''", "'") for literal in re.findall(r"'((?:[^']|'')*)'", match.group(1))]


@pytest.mark.parametrize(
    "bumped, changes",
    [
        ("worker/go.sum", {"all-modules", "subshells", "loop", "found-at-run-time"}),
        ("api/go.sum", {"all-modules", "subshells", "loop", "found-at-run-time"}),
        ("tools/go.sum", {"all-modules", "found-at-run-time"}),
    ],
)
def test_a_sub_modules_dependency_bump_changes_the_module_key_of_jobs_that_build_it(bumped, changes, tmp_path):
    """cache-dependency-path globs, `(cd dir && go ...)`, `go -C`, loops over literal module lists,
    and every go.sum when the loop's list is computed at run time (issue 10 point 5). hashFiles()
    is the runner's own (@actions/glob), run on the fixture before and after the bump."""
    root = tmp_path / "repo"
    shutil.copytree(MODULE_LOOPS / "repo", root)
    jobs = ["all-modules", "subshells", "loop", "found-at-run-time"]
    before = {job: hash_files(root, _module_key_patterns(job))["digest"] for job in jobs}
    with open(root / bumped, "a") as handle:
        handle.write("golang.org/x/text v0.16.0 h1:a94ExnEXNtEwYLGJSIUxnWoxoRz/ZcCsV63ROupILh4=\n")
    after = {job: hash_files(root, _module_key_patterns(job))["digest"] for job in jobs}
    assert all(before[job] for job in jobs)
    assert {job for job in jobs if before[job] != after[job]} == changes


ACTION_MODULE = Path(__file__).resolve().parent / "fixtures" / "action" / "module"
GO_STEPS = """\
    steps:
      - uses: actions/checkout@v4
        with:
          persist-credentials: false
      - uses: actions/setup-go@v5
        with:
          go-version-file: go.mod
      - run: go build ./ids
"""
SIMPLE_WORKFLOW = (
    "name: ci\non:\n  push:\n    branches: [main]\npermissions:\n  contents: read\njobs:\n"
    "  build:\n    runs-on: ubuntu-latest\n" + GO_STEPS
)


def _go_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    go = shutil.which("go")
    assert go, "go is not on PATH (.ci/install-tools installs it)"
    return {"PATH": os.path.dirname(go) + ":/usr/bin:/bin", "HOME": str(tmp_path), "GOTOOLCHAIN": "local",
            "GOCACHE": str(tmp_path / "gobuild"), "GOFLAGS": "-buildvcs=false", "RUNNER_OS": "Linux",
            "RUNNER_TEMP": str(tmp_path / "temp"), **extra}


def test_raw_steps_complete_and_prune_the_module_cache_before_saving(tmp_path):
    """The job built only ./ids from a cache restored through `...-gomod-` that also held an
    older golang.org/x/text; after the completion step the cache holds what go.sum lists (all of
    it: the whole module builds with the proxy off) and not the older version (issue 10 point 6,
    issue 17 point 8). Real go and the Go module proxy."""
    from support.cli import run_cli

    repo = tmp_path / "repo"
    shutil.copytree(ACTION_MODULE, repo)
    (repo / ".github" / "workflows").mkdir(parents=True)
    (repo / ".github" / "workflows" / "ci.yml").write_text(SIMPLE_WORKFLOW)
    assert run_cli("patch", cwd=repo).returncode == 0
    document = YAML(typ="safe").load((repo / ".github" / "workflows" / "ci.yml").read_text())
    steps = {step.get("name"): step for step in document["jobs"]["build"]["steps"]}
    complete = steps["Complete the Go module cache"]
    module_cache = tmp_path / "gomod"
    (tmp_path / "temp").mkdir()
    env = _go_env(tmp_path, GOMODCACHE=str(module_cache))
    # the restored cache: an older x/text only; then the job's own partial build
    subprocess.run(["go", "mod", "download", "golang.org/x/text@v0.20.0"], cwd=repo, env=env, check=True, capture_output=True)
    subprocess.run(["go", "build", "./ids"], cwd=repo, env=env, check=True, capture_output=True)
    step_env = {**env, "MODULE_CACHE": str(module_cache), "RESTORED_FROM": "gocache-v1-Linux-X64-gomod-"}
    completed = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", complete["run"]],
                               cwd=repo, env=step_env, capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr
    assert "::warning" not in completed.stdout
    zips = {path.name for path in (module_cache / "cache" / "download" / "golang.org" / "x" / "text" / "@v").glob("*.zip")}
    assert zips == {"v0.21.0.zip"}
    offline = subprocess.run(["go", "build", "./..."], cwd=repo, env={**env, "GOPROXY": "off", "GOFLAGS": "-mod=mod"},
                             capture_output=True, text=True)
    assert offline.returncode == 0, offline.stderr
    assert not (tmp_path / "temp" / "ci-gocache-restored-modules").exists()
    subprocess.run(["chmod", "-R", "u+w", str(module_cache)], check=True)


# On Windows the first two characters of a path name its drive; here a path under /t... (the
# test's RUNNER_TEMP) and one elsewhere stand for the work drive D: and the profile drive C:.
def _elsewhere(tmp_path: Path) -> str:
    return "/var/empty-go" if not str(tmp_path).startswith("/v") else "/usr/empty-go"


@pytest.mark.parametrize(
    "runner_os, user_set, defaults_elsewhere, moved",
    [
        ("Windows", {}, True, {"GOMODCACHE", "GOCACHE"}),
        ("Windows", {"GOMODCACHE": "MODULES"}, True, {"GOCACHE"}),
        ("Windows", {}, False, set()),
        ("Linux", {}, True, set()),
    ],
    ids=["windows", "windows-user-set-GOMODCACHE", "windows-already-on-the-work-drive", "linux"],
)
def test_windows_legs_of_raw_steps_keep_the_caches_on_the_work_drive(tmp_path, runner_os, user_set, defaults_elsewhere, moved):
    """Like the action (issue 17, low): the locate step of a job that may run on Windows moves
    GOMODCACHE and GOCACHE to RUNNER_TEMP's drive on Windows legs, for later steps too
    (GITHUB_ENV), and the cache paths follow; a variable the workflow sets stays. Real bash and go."""
    locate = _steps(FIXTURES / "basic", "ci.yml", "test")["Locate Go caches"]
    temp = tmp_path / "temp"
    temp.mkdir()
    base = _elsewhere(tmp_path) if defaults_elsewhere else str(tmp_path)
    env = {"RUNNER_OS": runner_os, "RUNNER_TEMP": str(temp), "GOPATH": f"{base}/go", "XDG_CACHE_HOME": f"{base}/cache"}
    env.update({name: str(tmp_path / value) for name, value in user_set.items()})
    outputs = _locate_outputs(locate, {"os": "windows-latest", "go": "1.23"}, tmp_path, **env)
    expected = {
        "GOMODCACHE": f"{temp}\\ci-gocache\\go-mod" if "GOMODCACHE" in moved else env.get("GOMODCACHE", f"{base}/go/pkg/mod"),
        "GOCACHE": f"{temp}\\ci-gocache\\go-build" if "GOCACHE" in moved else f"{base}/cache/go-build",
    }
    assert (outputs["module-cache"], outputs["build-cache"]) == (expected["GOMODCACHE"], expected["GOCACHE"])
    written = dict(line.split("=", 1) for line in (tmp_path / "env").read_text().splitlines())
    assert written == {name: expected[name] for name in moved}


WINDOWS_AND_LINUX_JOBS = (
    "name: ci\non: {on}\npermissions:\n  contents: read\njobs:\n"
    + "  linux:\n    runs-on: ubuntu-latest\n" + GO_STEPS
    + "  windows:\n    runs-on: windows-latest\n" + GO_STEPS
    + "  legs:\n    runs-on: ${{{{ matrix.os }}}}\n    strategy:\n      matrix:\n        os: [ubuntu-latest, windows-2022]\n" + GO_STEPS
    + "  self-hosted:\n    runs-on: [self-hosted, Windows, X64]\n" + GO_STEPS
)


@pytest.mark.parametrize(
    "on, moving_jobs",
    [
        ("push", {"windows", "legs", "self-hosted"}),
        ("[push, pull_request_target]", set()),
        ("{workflow_run: {workflows: [build]}}", set()),
    ],
    ids=["push", "pull_request_target", "workflow_run"],
)
def test_only_jobs_that_may_run_on_windows_move_the_caches_and_never_where_zizmor_reports_it(tmp_path, on, moving_jobs):
    """Linux-only jobs are written as before. In workflows a pull request can start with the
    base repository's rights, zizmor reports any write to GITHUB_ENV (github-env): there the
    caches stay where Go puts them."""
    from support.cli import run_cli
    from support.tools import zizmor_findings

    repo = tmp_path / "repo"
    shutil.copytree(ACTION_MODULE, repo)
    workflow = repo / ".github" / "workflows" / "ci.yml"
    workflow.parent.mkdir(parents=True)
    workflow.write_text(WINDOWS_AND_LINUX_JOBS.format(on=on))
    result = run_cli("patch", cwd=repo)
    assert result.returncode == 0, result.stderr
    document = YAML(typ="safe").load(workflow.read_text())
    moving = set()
    for job_id, job in document["jobs"].items():
        (locate,) = [step for step in job["steps"] if step.get("name") == "Locate Go caches"]
        if "GITHUB_ENV" in locate["run"]:
            moving.add(job_id)
    assert moving == moving_jobs
    assert "github-env" not in zizmor_findings(workflow)
