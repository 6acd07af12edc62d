"""`ci-gocache report --gitlab`: job traces read through the real client from a recorded GitLab API."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from test_report import FixtureServer, report_env, run_report

PROJECT = "group/svc"


@pytest.fixture
def gitlab() -> Any:
    with FixtureServer("gitlab-basic") as server:
        yield server


def gitlab_report(server: FixtureServer, *extra: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    completed = run_report("--gitlab", PROJECT, "--gitlab-url", server.url, "--last", "3", "--format", "json",
                           "--max-wait", "5", *extra, env=env or report_env(GITLAB_TOKEN="glpat-fixture"))
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)


def by_group(report: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(cache["job"], cache["cache"]): cache for cache in report["caches"]}


def test_traces_give_exact_partial_and_miss_with_fallback_keys(gitlab: FixtureServer) -> None:
    groups = by_group(gitlab_report(gitlab))
    module = groups[("test", "go-mod")]
    build = groups[("test", "go-build")]
    # Pipeline 901: both miss, fallbacks included; 902: module hit, build from the main fallback; 903: both hit.
    assert (module["runs"], module["exact"], module["partial"], module["miss"]) == (3, 2, 0, 1)
    assert (build["runs"], build["exact"], build["partial"], build["miss"]) == (3, 1, 1, 1)
    assert groups[("lint", "golangci")]["exact"] == 1
    assert module["sources"] == ["gitlab"] and module["workflow"] == "test"


def test_restore_seconds_come_from_the_restore_cache_section(gitlab: FixtureServer) -> None:
    groups = by_group(gitlab_report(gitlab))
    # The section's time is shared by the two caches restored in it: 901 took 4s, 902 15s, 903 14s.
    assert groups[("test", "go-mod")]["restore_seconds"] == {"median": 7.0, "p90": 7.5}
    assert groups[("lint", "golangci")]["restore_seconds"]["median"] == 7.0


def test_pipelines_are_paginated_and_the_rate_limited_request_retried(gitlab: FixtureServer) -> None:
    started = time.monotonic()
    report = gitlab_report(gitlab)
    paths = gitlab.api_paths()
    assert any("/pipelines?" in path and "page=2" in path for path in paths)
    assert sum(path.startswith("/api/v4/projects/group%2Fsvc/pipelines/902/jobs") for path in paths) == 2
    assert time.monotonic() - started >= 1.0
    assert report["runs"]["listed"] == 3 and report["runs"]["read"] == 3 and report["partial"] is False


def test_erased_trace_is_counted_and_manual_jobs_are_not_fetched(gitlab: FixtureServer) -> None:
    report = gitlab_report(gitlab)
    assert report["runs"]["logs_missing"] == 1 and report["runs"]["jobs_read"] == 4
    assert not any("/jobs/5006/trace" in path for path in gitlab.api_paths())


def test_gitlab_token_goes_in_private_token_and_job_token_in_job_token(gitlab: FixtureServer) -> None:
    gitlab_report(gitlab)
    assert {request["headers"].get("private-token") for request in gitlab.api.requests} == {"glpat-fixture"}
    gitlab.api.requests.clear()
    gitlab_report(gitlab, env=report_env(CI_JOB_TOKEN="job-token-value"))
    headers = gitlab.api.requests[0]["headers"]
    assert headers.get("job-token") == "job-token-value" and "private-token" not in headers


def test_gitlab_markdown_counts_pipelines(gitlab: FixtureServer) -> None:
    completed = run_report("--gitlab", PROJECT, "--gitlab-url", gitlab.url, "--last", "3", "--format", "markdown",
                           "--max-wait", "5", env=report_env(GITLAB_TOKEN="glpat-fixture"))
    assert completed.returncode == 0, completed.stderr
    lines = completed.stdout.splitlines()
    assert lines[0] == "### Go cache report for group/svc (3 of 3 pipelines read)"
    assert "| test | test | go-build | 3 | 33% | 33% | 33% | 7.0s | 7.5s | - |" in lines
    assert "_1 job log was missing (expired or erased)._" in lines


def test_gitlab_rate_limit_beyond_the_bound_is_partial(gitlab: FixtureServer) -> None:
    completed = run_report("--gitlab", PROJECT, "--gitlab-url", gitlab.url, "--last", "3", "--format", "json",
                           "--max-wait", "0", env=report_env(GITLAB_TOKEN="glpat-fixture"))
    assert completed.returncode == 3
    report = json.loads(completed.stdout)
    assert report["partial"] is True and report["runs"]["read"] == 1
    assert "stopped after 1 of 3 pipelines" in report["partial_reason"]


@pytest.mark.parametrize(
    ("project", "expected"),
    [
        ("group/unauthorized", "GitLab API GET /projects/group%2Funauthorized: 401 Unauthorized (401 Unauthorized): the token was rejected; set GITLAB_TOKEN"),
        ("group/forbidden", "GitLab API GET /projects/group%2Fforbidden: 403 Forbidden (403 Forbidden): the token may not read pipelines"),
        ("group/missing", "GitLab API GET /projects/group%2Fmissing: 404 Not Found (404 Project Not Found): the project does not exist"),
    ],
)
def test_gitlab_401_403_404_are_clear_errors(gitlab: FixtureServer, project: str, expected: str) -> None:
    completed = run_report("--gitlab", project, "--gitlab-url", gitlab.url, env=report_env(GITLAB_TOKEN="glpat-fixture"))
    assert completed.returncode == 2 and completed.stdout == ""
    assert completed.stderr.startswith("error: " + expected), completed.stderr
    assert "Traceback" not in completed.stderr
