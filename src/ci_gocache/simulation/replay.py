"""Replaying every run of the window under each strategy against its own cache service, and counting
hits, cold runs, module downloads and build-cache age."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from ci_gocache.simulation.cache_service import CacheService
from ci_gocache.simulation.history import History
from ci_gocache.simulation.runs import EVENT_KINDS, RunInput, iter_runs
from ci_gocache.simulation.strategies import STRATEGIES, Strategy


DEFAULT_REF = "refs/heads/main"


@dataclass
class _Replay:
    strategy: Strategy
    service: CacheService = field(default_factory=CacheService)
    mod: dict[str, int] = field(default_factory=lambda: {"exact": 0, "partial": 0, "miss": 0, "uncached": 0})
    build: dict[str, int] = field(default_factory=lambda: {"exact": 0, "partial": 0, "miss": 0, "uncached": 0})
    staleness: list[int] = field(default_factory=list)
    saves: dict[str, int] = field(default_factory=lambda: {"push": 0, "pull_request": 0})
    downloads: int = 0
    avoided: int = 0
    runs: dict[str, int] = field(default_factory=lambda: {"push": 0, "pull_request": 0})
    cold_by_position: list[int] = field(default_factory=list)  # 1 for a cold push run, in order

    def run(self, run: RunInput, event: str, ref: str, number: int) -> None:
        counted = not run.warm_up
        refs = [ref] if ref == DEFAULT_REF else [ref, DEFAULT_REF]
        module_spec, build_spec = self.strategy.plan(run, event, number)
        if not module_spec.key:
            hit, entry = "uncached", None
        else:
            hit, entry = self.service.restore(module_spec.key, module_spec.restore_keys, refs)
        restored = entry.content if entry else 0
        needed = run.snapshot.needed
        missing = (needed & ~restored).bit_count()
        build_hit, build_entry = hit, entry
        if build_spec is not None:
            build_hit, build_entry = self.service.restore(build_spec.key, build_spec.restore_keys, refs)
        if counted:
            self.runs[event] += 1
            self.mod[hit] += 1
            self.build[build_hit] += 1
            self.downloads += missing
            self.avoided += needed.bit_count() - missing
            if build_entry is not None:
                self.staleness.append(run.position - build_entry.position)
            if event == "push":
                self.cold_by_position.append(1 if hit in ("miss", "uncached") else 0)
        # Saving on a miss only: actions/cache and setup-go skip the save after an exact hit.
        if module_spec.key and module_spec.save and hit != "exact":
            if self.service.save(ref, module_spec.key, run.position, restored | needed) and counted:
                self.saves[event] += 1
        if build_spec is not None and build_spec.save and build_hit != "exact":
            if self.service.save(ref, build_spec.key, run.position, 0) and counted:
                self.saves[event] += 1

    def result(self) -> dict[str, Any]:
        runs = self.runs["push"] + self.runs["pull_request"]
        cold = self.mod["miss"] + self.mod["uncached"]
        return {
            "name": self.strategy.name,
            "description": self.strategy.description,
            "runs": runs,
            "pull_request_runs": self.runs["pull_request"],
            "mod": dict(self.mod),
            "build": {**self.build, "staleness": _staleness(self.staleness)},
            "cold_runs": cold,
            "cold_share": round(cold / runs, 4) if runs else None,
            "saves": self.saves["push"] + self.saves["pull_request"],
            "pull_request_saves": self.saves["pull_request"],
            "module_downloads": self.downloads,
            "module_downloads_avoided": self.avoided,
            "cold_timeline": _buckets(self.cold_by_position),
        }


def _buckets(flags: list[int], count: int = 24) -> list[float]:
    """The share of cold runs in up to `count` equal slices of the window, oldest first (for charts)."""
    if not flags:
        return []
    slices = min(count, len(flags))
    shares = []
    for index in range(slices):
        start, end = index * len(flags) // slices, (index + 1) * len(flags) // slices
        part = flags[start:end]
        shares.append(round(sum(part) / len(part), 3) if part else 0.0)
    return shares


def _bucket_starts(times: list[int], count: int = 24) -> list[int]:
    slices = min(count, len(times))
    return [times[index * len(times) // slices] for index in range(slices)]


def simulate(history: History, *, pull_requests: bool = False, strategies: list[Strategy] | None = None) -> dict[str, Any]:
    replays = [_Replay(strategy) for strategy in (strategies or STRATEGIES)]
    events = {kind: 0 for kind in EVENT_KINDS}
    go_file_changes = skipped = 0
    number = 0
    first = last = None
    push_times: list[int] = []
    for run in iter_runs(history):
        commit = history.warm_up if run.warm_up else history.commits[run.position]
        if not run.warm_up:
            go_file_changes += run.changed_go_files
            first = first or run
            last = run
        if commit is not None and commit.skipped:
            if not run.warm_up:
                skipped += 1
            continue
        plan = []
        if pull_requests and not run.warm_up and run.position > 0:
            plan.append(("pull_request", f"refs/pull/{run.position}/merge"))
        plan.append(("push", DEFAULT_REF))
        if not run.warm_up:
            push_times.append(run.time)
        for event, ref in plan:
            number += 1
            if not run.warm_up:
                events["pull_request" if event == "pull_request" else run.event] += 1
            for replay in replays:
                replay.run(run, event, ref, number)
    assert first is not None and last is not None
    return {
        "commits": history.counted,
        "runs_skipped": skipped,
        "first": first.commit,
        "last": last.commit,
        "first_date": _iso(first.time),
        "last_date": _iso(last.time),
        "warm_start": history.warm_up is not None,
        "go_file_changes": go_file_changes,
        "pull_requests": pull_requests,
        "events": events,
        "timeline_dates": [_iso(stamp) for stamp in _bucket_starts(push_times)],
        "strategies": [replay.result() for replay in replays],
    }


def _iso(stamp: int) -> str:
    return datetime.fromtimestamp(stamp, tz=timezone.utc).strftime("%Y-%m-%d")


def _staleness(values: list[int]) -> dict[str, float | int | None]:
    """How many commits behind the run the restored build cache was saved."""
    if not values:
        return {"restores": 0, "mean": None, "median": None, "p90": None, "max": None}
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, max(0, -(-len(ordered) * 9 // 10) - 1))]
    return {
        "restores": len(ordered),
        "mean": round(statistics.fmean(ordered), 2),
        "median": statistics.median(ordered),
        "p90": p90,
        "max": ordered[-1],
    }
