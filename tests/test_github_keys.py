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


def _locate_outputs(step: dict, matrix: dict | None, tmp_path: Path) -> dict[str, str]:
    output = tmp_path / "output"
    output.write_text("")
    go = shutil.which("go")
    assert go, "go is not on PATH (.ci/install-tools installs it)"
    env = {"PATH": os.path.dirname(go) + ":/usr/bin:/bin", "HOME": str(tmp_path), "GITHUB_OUTPUT": str(output),
           "GOTOOLCHAIN": "local"}
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
SIMPLE_WORKFLOW = """name: ci
on:
  push:
    branches: [main]
permissions:
  contents: read
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
        with:
          persist-credentials: false
      - uses: actions/setup-go@v5
        with:
          go-version-file: go.mod
      - run: go build ./ids
"""


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
