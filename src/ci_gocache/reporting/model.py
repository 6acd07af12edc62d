"""What a collector hands to the summary: the jobs it read and the cache entries it listed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ci_gocache.reporting.logs import Observation

# (done, total, what) -> None; called while fetching.
Progress = Callable[[int, int, str], None]


def no_progress(done: int, total: int, what: str) -> None:
    return None


@dataclass
class JobObservations:
    workflow: str
    job: str
    run_id: str
    created_at: str  # ISO 8601, UTC
    url: str
    observations: list[Observation]


@dataclass
class Collection:
    kind: str  # github or gitlab
    project: str
    api_url: str
    default_branch: str = ""
    jobs: list[JobObservations] = field(default_factory=list)
    runs_listed: int = 0
    runs_read: int = 0
    jobs_read: int = 0
    logs_missing: int = 0
    cache_entries: list[dict[str, Any]] | None = None
    partial: bool = False
    partial_reason: str = ""
