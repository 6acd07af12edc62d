"""Collect cache observations from GitHub Actions: run logs (zipped) and the caches API."""

from __future__ import annotations

import itertools
import zipfile
from typing import Any

from ci_gocache.reporting.client import ApiClient, ApiError, RateLimitExceeded
from ci_gocache.reporting.logs import jobs_from_run_logs_zip, parse_github_job_log
from ci_gocache.reporting.model import Collection, JobObservations, Progress, no_progress

DEFAULT_API_URL = "https://api.github.com"


def explain(status: int, path: str, message: str) -> str:
    if status == 401:
        return "the token was rejected; set GITHUB_TOKEN or GH_TOKEN to a valid token"
    if status == 403:
        return ("the token may not read Actions data; it needs the actions:read permission "
                "(fine-grained tokens: Actions read-only; classic tokens: repo for private repositories)")
    if status == 404:
        return ("the repository does not exist or the token cannot see it; check OWNER/REPO and, for a private "
                "repository, set GITHUB_TOKEN or GH_TOKEN")
    return "the request failed; try again later"


def make_client(api_url: str, token: str | None, max_wait: float) -> ApiClient:
    headers = {"X-GitHub-Api-Version": "2022-11-28"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return ApiClient(api_url, "GitHub", headers, explain, max_wait=max_wait)


def _runs(client: ApiClient, repo: str, workflows: list[str], last: int | None, since: str | None,
          branch: str | None) -> list[dict[str, Any]]:
    params: dict[str, Any] = {"per_page": min(100, last) if last else 100, "status": "completed"}
    if since:
        params["created"] = f">={since}"
    if branch:
        params["branch"] = branch
    paths = [f"/repos/{repo}/actions/runs"]
    if workflows:
        paths = [f"/repos/{repo}/actions/workflows/{_workflow_id(client, repo, name)}/runs" for name in workflows]
    runs: list[dict[str, Any]] = []
    for path in paths:
        runs.extend(itertools.islice(client.paginate(path, params, "workflow_runs"), last))
    runs.sort(key=lambda run: run.get("created_at", ""), reverse=True)
    return runs


def _workflow_id(client: ApiClient, repo: str, name: str) -> str:
    """A workflow file name is an id the API accepts; a workflow's display name is looked up."""
    if name.endswith((".yml", ".yaml")) or name.isdigit():
        return name.rsplit("/", 1)[-1]
    for workflow in client.paginate(f"/repos/{repo}/actions/workflows", {"per_page": 100}, "workflows"):
        if workflow.get("name") == name or workflow.get("path", "").endswith("/" + name):
            return str(workflow["id"])
    raise ApiError(404, f"GitHub: no workflow named {name!r} in {repo}; give its name or file name (ci.yml)")


def collect(client: ApiClient, repo: str, *, last: int | None, since: str | None, workflows: list[str],
            branch: str | None = None, progress: Progress = no_progress) -> Collection:
    collection = Collection("github", repo, client.base_url)
    listing_caches = False
    try:
        repository = client.get_json(f"/repos/{repo}")
        collection.default_branch = str(repository.get("default_branch") or "")
        runs = _runs(client, repo, workflows, last, since, branch)
        collection.runs_listed = len(runs)
        for index, run in enumerate(runs):
            progress(index, len(runs), f"run {run.get('id')}")
            _read_run(client, repo, run, collection)
        listing_caches = True
        progress(len(runs), len(runs), "caches")
        collection.cache_entries = list(
            client.paginate(f"/repos/{repo}/actions/caches", {"per_page": 100}, "actions_caches")
        )
    except RateLimitExceeded as limit:
        collection.partial = True
        collection.partial_reason = (
            f"GitHub's rate limit asks to wait {limit.wait_seconds:.0f}s, more than --max-wait allows; stopped after "
            f"{collection.runs_read} of {collection.runs_listed} runs" + (" while listing caches" if listing_caches else "")
        )
    return collection


def _read_run(client: ApiClient, repo: str, run: dict[str, Any], collection: Collection) -> None:
    response = client.get(f"/repos/{repo}/actions/runs/{run['id']}/logs", accept="application/vnd.github+json",
                          allow=(404, 410))
    collection.runs_read += 1
    if response.status in (404, 410):
        collection.logs_missing += 1  # logs expire (90 days by default) or were deleted
        return
    try:
        jobs = jobs_from_run_logs_zip(response.body)
    except zipfile.BadZipFile:
        collection.logs_missing += 1
        return
    for job, text in sorted(jobs.items()):
        collection.jobs_read += 1
        observations = parse_github_job_log(text)
        if observations:
            collection.jobs.append(JobObservations(
                workflow=str(run.get("name") or run.get("path") or "workflow"), job=job, run_id=str(run["id"]),
                created_at=str(run.get("created_at") or ""), url=str(run.get("html_url") or ""),
                observations=observations,
            ))
