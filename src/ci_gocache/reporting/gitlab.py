"""Collect cache observations from GitLab CI job traces."""

from __future__ import annotations

import itertools
import urllib.parse
from typing import Any

from ci_gocache.reporting.client import ApiClient, RateLimitExceeded
from ci_gocache.reporting.logs import parse_gitlab_trace
from ci_gocache.reporting.model import Collection, JobObservations, Progress, no_progress

DEFAULT_URL = "https://gitlab.com"


def explain(status: int, path: str, message: str) -> str:
    if status == 401:
        return "the token was rejected; set GITLAB_TOKEN (read_api scope) or run inside a job with CI_JOB_TOKEN"
    if status == 403:
        return "the token may not read pipelines and job logs; it needs the read_api scope and Reporter access"
    if status == 404:
        return ("the project does not exist or the token cannot see it; check the project path or id and "
                "--gitlab-url, and set GITLAB_TOKEN for a private project")
    return "the request failed; try again later"


def make_client(gitlab_url: str, token: str | None, job_token: str | None, max_wait: float) -> ApiClient:
    headers: dict[str, str] = {}
    if token:
        headers["PRIVATE-TOKEN"] = token
    elif job_token:
        headers["JOB-TOKEN"] = job_token
    return ApiClient(gitlab_url.rstrip("/") + "/api/v4", "GitLab", headers, explain, max_wait=max_wait)


def collect(client: ApiClient, project: str, *, last: int | None, since: str | None, branch: str | None = None,
            progress: Progress = no_progress) -> Collection:
    collection = Collection("gitlab", project, client.base_url)
    project_id = urllib.parse.quote(project, safe="")
    params: dict[str, Any] = {"per_page": min(100, last) if last else 100, "order_by": "id", "sort": "desc"}
    if since:
        params["updated_after"] = since
    if branch:
        params["ref"] = branch
    try:
        details = client.get_json(f"/projects/{project_id}")
        collection.default_branch = str(details.get("default_branch") or "")
        pipelines = list(itertools.islice(client.paginate(f"/projects/{project_id}/pipelines", params), last))
        collection.runs_listed = len(pipelines)
        for index, pipeline in enumerate(pipelines):
            progress(index, len(pipelines), f"pipeline {pipeline.get('id')}")
            jobs = list(client.paginate(f"/projects/{project_id}/pipelines/{pipeline['id']}/jobs", {"per_page": 100}))
            for job in jobs:
                _read_job(client, project_id, pipeline, job, collection)
            collection.runs_read += 1
        progress(len(pipelines), len(pipelines), "done")
    except RateLimitExceeded as limit:
        collection.partial = True
        collection.partial_reason = (
            f"GitLab's rate limit asks to wait {limit.wait_seconds:.0f}s, more than --max-wait allows; stopped after "
            f"{collection.runs_read} of {collection.runs_listed} pipelines"
        )
    return collection


def _read_job(client: ApiClient, project_id: str, pipeline: dict[str, Any], job: dict[str, Any],
              collection: Collection) -> None:
    if job.get("status") in ("skipped", "manual", "created"):
        return
    response = client.get(f"/projects/{project_id}/jobs/{job['id']}/trace", accept="text/plain", allow=(404, 410))
    if response.status in (404, 410):
        collection.logs_missing += 1  # erased or expired job logs
        return
    collection.jobs_read += 1
    observations = parse_gitlab_trace(response.body.decode("utf-8", "replace"))
    if observations:
        collection.jobs.append(JobObservations(
            workflow=str(job.get("stage") or "pipeline"), job=str(job.get("name") or job["id"]),
            run_id=str(pipeline["id"]), created_at=str(job.get("created_at") or pipeline.get("created_at") or ""),
            url=str(job.get("web_url") or ""), observations=observations,
        ))
