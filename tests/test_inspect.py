"""`ci-gocache inspect`: modules, workspaces, jobs, runners, containers, caches and docker builds."""

from __future__ import annotations

import json
from pathlib import Path

from support.cli import run_cli

REPO = Path(__file__).parent / "fixtures" / "inspect" / "repo"


def _report() -> dict:
    result = run_cli("inspect", "--format", "json", str(REPO))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _job(report: dict, job_id: str) -> dict:
    workflow = next(w for w in report["workflows"] if w["path"] == ".github/workflows/ci.yml")
    return next(job for job in workflow["jobs"] if job["id"] == job_id)


def test_modules_report_go_toolchain_sum_and_vendor():
    modules = {module["directory"]: module for module in _report()["modules"]}
    assert modules[""]["go_version"] == "1.22.0"
    assert modules[""]["toolchain"] == "go1.23.4"
    assert modules[""]["has_go_sum"] is True
    assert modules["svc"]["has_go_sum"] is False
    assert modules["svc"]["has_vendor"] is True


def test_workspace_lists_its_modules():
    (workspace,) = _report()["workspaces"]
    assert workspace["uses"] == [".", "./svc"]
    assert workspace["has_go_work_sum"] is False


def test_job_facts_include_why_runners_and_working_directory():
    job = _job(_report(), "test")
    assert job["builds_go"] is True
    assert "uses actions/setup-go" in job["why"] and "runs go commands" in job["why"]
    assert job["runs_on"] == ["ubuntu-latest", "macos-latest"]
    assert job["working_directory"] == "svc"
    # go.work at the root applies to svc, so every workspace module's sum file counts
    assert job["go_sum_files"] == ["go.sum", "svc/go.mod"]
    assert [cache["kind"] for cache in job["caches"]] == ["setup-go"]


def test_existing_caches_are_found():
    kinds = [cache["kind"] for cache in _job(_report(), "lint")["caches"]]
    assert kinds == ["actions/cache", "golangci-lint"]


def test_container_make_job_and_docker_builds():
    job = _job(_report(), "image")
    assert job["container"] == "golang:1.23"
    assert job["builds_go"] is True
    assert any("make" in reason for reason in job["why"])
    assert job["docker_builds"] and "docker/build-push-action" in job["docker_builds"][0]


def test_non_go_and_reusable_jobs():
    report = _report()
    assert _job(report, "docs")["builds_go"] is False
    assert _job(report, "shared")["reusable_workflow"] is True


def test_other_ci_files_are_listed():
    report = _report()
    assert [entry["path"] for entry in report["dockerfiles"]] == ["Dockerfile"]
    assert [entry["path"] for entry in report["gitlab"]] == [".gitlab-ci.yml"]


def test_text_output_is_readable():
    result = run_cli("inspect", str(REPO))
    assert result.returncode == 0
    assert "job test (line 4): builds Go (uses actions/setup-go; runs go commands)" in result.stdout
    assert "cache: setup-go's built-in cache (on by default)" in result.stdout


GITHUB_FIXTURES = Path(__file__).parent / "fixtures" / "github"


def test_cache_flow_reports_restores_nothing_saves_as_they_are(tmp_path):
    """`inspect` runs the cache-flow check on the workflows as they are: setup-go's cache in a
    tag-only release workflow is never saved where other runs can read it; the same cache in
    CI workflow on pushes to main (with tags too) is saved, and a release-branch workflow never saves."""
    result = run_cli("inspect", "--format", "json", str(GITHUB_FIXTURES / "release-tags" / "repo"))
    assert result.returncode == 0, result.stderr
    (flow,) = json.loads(result.stdout)["cache_flow"]
    assert (flow["job"], flow["cache"], flow["saved_by"]) == ("goreleaser", "setup-go's cache", [])
    assert "restores a cache that nothing saves" in flow["message"]
    text = run_cli("inspect", str(GITHUB_FIXTURES / "release-tags" / "repo")).stdout
    assert "Cache flow (1 restores, 1 never saved):" in text
    assert "job goreleaser: setup-go's cache: NOTHING SAVES IT" in text
    saved = json.loads(run_cli("inspect", "--format", "json", str(GITHUB_FIXTURES / "trigger-shapes" / "repo")).stdout)
    by_job = {flow["job"]: flow for flow in saved["cache_flow"]}
    # setup-go's key holds no job id: every job on the default branch with the same go.sum saves it,
    # the tags-and-main CI job included; the release-branch-only workflow never does.
    assert ".github/workflows/ci.yml: test" in by_job["test"]["saved_by"]
    assert ".github/workflows/ci.yml: test" in by_job["verify"]["saved_by"]
    assert not any("release-only.yml" in saver for flow in by_job.values() for saver in flow["saved_by"])
