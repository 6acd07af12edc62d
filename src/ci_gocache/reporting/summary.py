"""Turn a Collection into the report: per workflow, job and cache hit rates, a timeline, storage warnings."""

from __future__ import annotations

import statistics
from collections import defaultdict
from typing import Any

from ci_gocache.action import summary as action_summary
from ci_gocache.reporting.logs import cache_label
from ci_gocache.reporting.model import Collection

GIB = 1024**3
NEAR_LIMIT_SHARE = 0.8


def percentile(values: list[float], share: float) -> float | None:
    """Nearest-rank percentile: the smallest value with at least `share` of the values at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-int(share * 100) * len(ordered) // 100))
    return ordered[min(rank, len(ordered)) - 1]


def summarize(collection: Collection, *, limit_bytes: int = 10 * GIB) -> dict[str, Any]:
    entry_sizes = {str(entry.get("key")): int(entry.get("size_in_bytes") or 0) for entry in collection.cache_entries or []}
    groups: dict[tuple[str, str, str], dict[str, Any]] = {}
    timeline: dict[str, dict[str, Any]] = defaultdict(lambda: {"exact": 0, "partial": 0, "miss": 0, "restore_seconds": defaultdict(list)})
    for job in sorted(collection.jobs, key=lambda job: job.created_at):
        day = job.created_at[:10] or "unknown"
        for observation in job.observations:
            group = groups.setdefault((job.workflow, job.job, observation.cache), {
                "workflow": job.workflow, "job": job.job, "cache": observation.cache, "runs": 0,
                "exact": 0, "partial": 0, "miss": 0, "seconds": [], "size_bytes": None, "sources": set(),
            })
            group["runs"] += 1
            group[observation.hit] += 1
            group["sources"].add(observation.source)
            if observation.restore_seconds is not None:
                group["seconds"].append(observation.restore_seconds)
                timeline[day]["restore_seconds"][observation.cache].append(observation.restore_seconds)
            size = observation.size_bytes or entry_sizes.get(observation.matched_key) or entry_sizes.get(observation.key)
            if size:
                group["size_bytes"] = size  # jobs are in time order: the newest size wins
            timeline[day][observation.hit] += 1
    caches = []
    for group in groups.values():
        runs = group["runs"]
        seconds = group.pop("seconds")
        caches.append({
            **group,
            "sources": sorted(group["sources"]),
            "exact_rate": round(group["exact"] / runs, 4),
            "partial_rate": round(group["partial"] / runs, 4),
            "miss_rate": round(group["miss"] / runs, 4),
            "restore_seconds": {
                "median": round(statistics.median(seconds), 3) if seconds else None,
                "p90": percentile(seconds, 0.9),
            },
        })
    caches.sort(key=lambda cache: (cache["workflow"], cache["job"], cache["cache"]))
    storage, warnings = storage_report(collection, limit_bytes)
    return {
        "source": {"kind": collection.kind, "project": collection.project, "api_url": collection.api_url,
                   "default_branch": collection.default_branch},
        "partial": collection.partial,
        "partial_reason": collection.partial_reason or None,
        "runs": {"listed": collection.runs_listed, "read": collection.runs_read, "jobs_read": collection.jobs_read,
                 "logs_missing": collection.logs_missing},
        "caches": caches,
        "timeline": [
            {"date": day, "exact": values["exact"], "partial": values["partial"], "miss": values["miss"],
             "restore_seconds_median": {cache: round(statistics.median(seconds), 3)
                                        for cache, seconds in sorted(values["restore_seconds"].items())}}
            for day, values in sorted(timeline.items())
        ],
        "storage": storage,
        "warnings": warnings,
    }


def storage_report(collection: Collection, limit_bytes: int) -> tuple[dict[str, Any] | None, list[dict[str, str]]]:
    """Sizes by ref from the caches API, and the three warnings: near the limit, PR crowding, duplicates."""
    entries = collection.cache_entries
    if entries is None:
        return None, []
    default_ref = f"refs/heads/{collection.default_branch}" if collection.default_branch else ""
    total = sum(int(entry.get("size_in_bytes") or 0) for entry in entries)
    by_ref: dict[str, dict[str, int]] = defaultdict(lambda: {"entries": 0, "bytes": 0})
    for entry in entries:
        ref = str(entry.get("ref") or "")
        by_ref[ref]["entries"] += 1
        by_ref[ref]["bytes"] += int(entry.get("size_in_bytes") or 0)
    pull_bytes = sum(value["bytes"] for ref, value in by_ref.items() if ref.startswith("refs/pull/"))
    pull_entries = sum(value["entries"] for ref, value in by_ref.items() if ref.startswith("refs/pull/"))
    default_bytes = by_ref.get(default_ref, {"bytes": 0})["bytes"]
    warnings: list[dict[str, str]] = []
    if total >= NEAR_LIMIT_SHARE * limit_bytes:
        warnings.append({"kind": "size-limit", "message": (
            f"Caches use {human_bytes(total)} of the {human_bytes(limit_bytes)} limit ({total / limit_bytes:.0%}); "
            "over the limit GitHub evicts the least recently used entries, so caches start missing. Trim the build "
            "cache and save only from the default branch.")})
    if pull_bytes > 0 and pull_bytes > default_bytes:
        warnings.append({"kind": "pull-request-crowding", "message": (
            f"Pull-request caches hold {human_bytes(pull_bytes)} in {pull_entries} entries, more than the default "
            f"branch's {human_bytes(default_bytes)}: each is usable only by its own pull request, yet they push "
            "default-branch caches out. Save caches only on pushes to the default branch (ci-gocache patch does).")})
    duplicates = _duplicates(entries, default_ref)
    if duplicates["copies"]:
        warnings.append({"kind": "duplicates", "message": (
            f"{duplicates['copies']} entries ({human_bytes(duplicates['bytes'])}) duplicate others: "
            f"{duplicates['same_key']} repeat a key already stored on another ref, and {duplicates['superseded']} on "
            "the default branch are older saves of a cache whose newest entry is the only one a restore key picks.")})
    storage = {
        "entries": len(entries), "total_bytes": total, "limit_bytes": limit_bytes,
        "default_branch_bytes": default_bytes, "pull_request_bytes": pull_bytes,
        "by_ref": {ref: value for ref, value in sorted(by_ref.items(), key=lambda item: -item[1]["bytes"])},
        "duplicate_entries": duplicates["copies"], "duplicate_bytes": duplicates["bytes"],
    }
    return storage, warnings


def _duplicates(entries: list[dict[str, Any]], default_ref: str) -> dict[str, int]:
    by_key: dict[str, list[dict[str, Any]]] = defaultdict(list)
    by_label: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for entry in entries:
        by_key[str(entry.get("key"))].append(entry)
        if entry.get("ref") == default_ref:
            by_label[cache_label(str(entry.get("key")))].append(entry)
    counted: set[int] = set()
    same_key = superseded = size = 0
    for copies in by_key.values():
        for entry in sorted(copies, key=lambda entry: str(entry.get("created_at")))[1:]:
            counted.add(id(entry))
            same_key += 1
            size += int(entry.get("size_in_bytes") or 0)
    for group in by_label.values():
        for entry in sorted(group, key=lambda entry: str(entry.get("created_at")))[:-1]:
            if id(entry) not in counted:
                counted.add(id(entry))
                superseded += 1
                size += int(entry.get("size_in_bytes") or 0)
    return {"copies": same_key + superseded, "same_key": same_key, "superseded": superseded, "bytes": size}


def human_bytes(value: int | float | None) -> str:
    """Sizes as the action's job summary prints them (KiB, MiB, GiB); "-" when unknown."""
    return "-" if value is None else action_summary.human_bytes(int(value))
