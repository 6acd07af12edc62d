"""The bundled examples are tested, not just shown: `ci-gocache patch` on each one changes
every CI file in it, the results pass the real validators, and a second run changes nothing. The
GitLab component example is already cached: it runs in gitlab-ci-local instead."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from support.buildkit import assert_front_end_accepts
from support.cli import run_cli
from support.tools import REPO, actionlint_findings, tool, zizmor_findings

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
CI_FILES = (".github/workflows/ci.yml", ".gitlab-ci.yml", "Dockerfile")
RUN_EXAMPLES = {"gitlab-component"}  # cached already; run, not patched
PATCHED_EXAMPLES = sorted(path.name for path in EXAMPLES.iterdir() if path.is_dir() and path.name not in RUN_EXAMPLES)
GO_ENVIRONMENT = ("GOPATH", "GOMODCACHE", "GOCACHE", "GOFLAGS", "GOENV", "GOWORK", "GOTOOLCHAIN")


def test_there_is_an_example_per_way_of_use():
    assert {"basic", "workspace", "gitlab-component", "docker-registry"} <= {path.name for path in EXAMPLES.iterdir()}


@pytest.fixture(params=PATCHED_EXAMPLES)
def patched_example(request, tmp_path: Path) -> tuple[Path, Path]:
    original = EXAMPLES / request.param
    copy = tmp_path / request.param
    shutil.copytree(original, copy)
    result = run_cli("patch", cwd=copy)
    assert result.returncode == 0, result.stderr
    return original, copy


def test_every_ci_file_of_the_example_is_patched(patched_example):
    original, copy = patched_example
    present = [name for name in CI_FILES if (original / name).exists()]
    assert present
    for name in present:
        assert (copy / name).read_bytes() != (original / name).read_bytes(), f"{name} was not patched"


def test_second_run_changes_nothing(patched_example):
    _, copy = patched_example
    assert run_cli("patch", "--check", cwd=copy).returncode == 0


def test_patched_example_passes_the_real_validators(patched_example, tmp_path):
    original, copy = patched_example
    workflow = copy / ".github/workflows/ci.yml"
    if workflow.exists():
        schema = subprocess.run(
            [tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(workflow)],
            capture_output=True, text=True,
        )
        assert schema.returncode == 0, schema.stdout
        before = tmp_path / "before.yml"
        before.write_bytes((original / ".github/workflows/ci.yml").read_bytes())
        assert actionlint_findings(workflow) - actionlint_findings(before) == {}
        assert zizmor_findings(workflow)["cache-poisoning"] == 0
    gitlab = copy / ".gitlab-ci.yml"
    if gitlab.exists():
        schema = subprocess.run(
            [tool("check-jsonschema"), "--builtin-schema", "vendor.gitlab-ci", "--data-transform", "gitlab-ci", str(gitlab)],
            capture_output=True, text=True,
        )
        assert schema.returncode == 0, schema.stdout
    dockerfile = copy / "Dockerfile"
    if dockerfile.exists():
        assert_front_end_accepts(original / "Dockerfile", dockerfile)


@pytest.mark.parametrize("example, module", [("basic", "."), ("workspace", "api"), ("workspace", "lib"), ("docker-registry", ".")])
def test_the_example_builds_with_go(example, module, tmp_path):
    """The examples are real Go programs: they build with the module proxy."""
    copy = tmp_path / example
    shutil.copytree(EXAMPLES / example, copy)
    built = subprocess.run(["go", "vet", "./..."], cwd=copy / module, capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=ci-gocache tests", "-c", "user.email=tests@ci-gocache.invalid", *args],
        cwd=repo, check=True, capture_output=True, text=True,
    )


def _gitlab_ci_local(repo: Path, *args: str) -> str:
    environment = {name: value for name, value in os.environ.items() if name not in GO_ENVIRONMENT}
    environment["FORCE_COLOR"] = "0"
    completed = subprocess.run(
        [tool("gitlab-ci-local"), *args], cwd=repo, env=environment, capture_output=True, text=True, timeout=600
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return completed.stdout + completed.stderr


def test_gitlab_component_example_is_left_as_it_is_and_caches_in_gitlab_ci_local(tmp_path):
    repo = tmp_path / "gitlab-component"
    shutil.copytree(EXAMPLES / "gitlab-component", repo)
    assert run_cli("patch", "--check", cwd=repo).returncode == 0
    # As GitLab documents testing a component from its own project: at the pipeline's commit. No
    # Docker engine here, so the job runs in the shell with the host's go instead of the image.
    (repo / "templates").mkdir()
    shutil.copy(REPO / "templates" / "go-cache.yml", repo / "templates" / "go-cache.yml")
    pipeline = repo / ".gitlab-ci.yml"
    text = pipeline.read_text().replace(
        "gitlab.com/ci-gocache/ci-gocache/go-cache@0.1.0", "$CI_SERVER_FQDN/$CI_PROJECT_PATH/go-cache@$CI_COMMIT_SHA"
    )
    pipeline.write_text(re.sub(r"^  image: .*\n", "", text, flags=re.MULTILINE))
    (repo / ".gitignore").write_text(".gitlab-ci-local/\n")
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "remote", "add", "origin", "https://gitlab.example.com/ci-gocache/example.git")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "example")
    _git(repo, "update-ref", "refs/remotes/origin/main", "HEAD")
    _git(repo, "symbolic-ref", "refs/remotes/origin/HEAD", "refs/remotes/origin/main")
    first = _gitlab_ci_local(repo, "--shell-isolation")
    created = re.findall(r"cache created in '\.gitlab-ci-local/cache/([^']+)'", first)
    assert any("example-v1-gomod" in name for name in created), first
    second = _gitlab_ci_local(repo, "--shell-isolation", "--variable", "GOPROXY=off")
    assert re.search(r"imported cache '\d*_?example-v1-gomod", second), second
