"""Cache storage per push on the benchmark history, without and with the save action's delete-superseded.

Reads the per-run records of a finished `bench/cache_benchmark.py` run (its ci-gocache runs: hits,
bytes uploaded, the store's size) and replays them against two stores:

    before   every saving run adds a build entry (and a module entry when go.sum changed)
    after    the same, and delete-superseded removes the build entry the run restored from
             (an earlier entry of the same job and leg; a build-cache miss, such as after a Go
             version change, supersedes nothing, so that entry stays until GitHub evicts it)

A run that uploaded both caches records their sum; its build entry's size is taken from the next
run that uploaded the build cache alone (marked "estimated" in the output). Run by hand:

    python bench/storage_per_push.py bench/results/cache_benchmark.json [bench/results/heavy/cache_benchmark.json]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

MIB = 2**20


def build_entry_bytes(runs: list[dict]) -> tuple[list[int | None], int]:
    """Each run's uploaded build-entry bytes (None: no build save), and how many were estimated."""
    sizes: list[int | None] = []
    estimated = 0
    for index, run in enumerate(runs):
        saved = run.get("saved") or {}
        if saved.get("build") != "true":
            sizes.append(None)
            continue
        if saved.get("module") != "true":
            sizes.append(run["saved_bytes"])
            continue
        later = next((r["saved_bytes"] for r in runs[index + 1 :] if (r.get("saved") or {}) == {"module": "false", "build": "true"}), None)
        sizes.append(later if later is not None else run["saved_bytes"])
        estimated += 1
    return sizes, estimated


def replay(runs: list[dict]) -> dict[str, float]:
    builds, estimated = build_entry_bytes(runs)
    entries_before = entries_after = 0
    bytes_after = 0
    live_build: dict[str, int] = {}  # build key -> bytes, in the "after" store
    for run, build_bytes in zip(runs, builds):
        saved = run.get("saved") or {}
        if saved.get("module") == "true":
            module_bytes = run["saved_bytes"] - (build_bytes or 0)
            entries_before += 1
            entries_after += 1
            bytes_after += module_bytes
        if build_bytes is not None:
            entries_before += 1
            entries_after += 1
            bytes_after += build_bytes
            live_build[run["keys"]["build"]] = build_bytes
            if run["hits"].get("build") == "partial":
                superseded = next((key for key in live_build if key != run["keys"]["build"] and key.rsplit("-", 3)[0] == run["keys"]["build"].rsplit("-", 3)[0]), None)
                if superseded is not None:
                    bytes_after -= live_build.pop(superseded)
                    entries_after -= 1
    pushes = len(runs)
    bytes_before = runs[-1]["store_bytes"]
    return {
        "pushes": pushes,
        "entries_before": entries_before,
        "entries_after": entries_after,
        "bytes_before": bytes_before,
        "bytes_after": bytes_after,
        "estimated": estimated,
    }


def main(paths: list[str]) -> None:
    print("| history | pushes | entries kept, before | after | MiB kept, before | after | MiB added per push, before | after |")
    print("|---|---|---|---|---|---|---|---|")
    for path in paths:
        runs = json.loads(Path(path).read_text())["runs"]["ci-gocache"]
        figures = replay(runs)
        pushes = figures["pushes"]
        print(
            f"| {path} | {pushes} | {figures['entries_before']} | {figures['entries_after']} | "
            f"{figures['bytes_before'] / MIB:.0f} | {figures['bytes_after'] / MIB:.0f} | "
            f"{figures['bytes_before'] / MIB / pushes:.1f} | {figures['bytes_after'] / MIB / pushes:.1f} |"
            + (f" ({figures['estimated']} build entries estimated)" if figures["estimated"] else "")
        )


if __name__ == "__main__":
    main(sys.argv[1:] or ["bench/results/cache_benchmark.json"])
