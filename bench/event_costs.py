"""Derive a `simulate --costs` file from a cache benchmark result. Run by hand:

    python bench/event_costs.py [bench/results/cache_benchmark.json] [--out bench/results/event_costs.json]

Per strategy, the job seconds of each kind of push in the benchmark's history: the median over
its source-only pushes, and the one run each of the dependency bump, the new dependency and the
Go version change. The benchmark runs no pull requests, so a pull request run is taken to cost
what a source-only push costs (both restore a warm cache and build little); the file says so.
The benchmark's `setup-go` is setup-go v5 (key on go.sum), which `simulate` calls `setup-go-go.sum`.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

KINDS = {"source": "source_only_push", "dependency-bump": "dependency_bump", "new-dependency": "new_dependency",
         "go-version": "go_version_change"}
SIMULATE_NAMES = {"setup-go": "setup-go-go.sum", "actions-cache-readme": "actions-cache-readme", "ci-gocache": "ci-gocache"}


def derive(result: dict, source_name: str) -> dict:
    strategies = {}
    for bench_name, simulate_name in SIMULATE_NAMES.items():
        runs = result["runs"][bench_name]
        costs = {}
        for kind, event in KINDS.items():
            seconds = [run["job_seconds"] for run in runs if run["kind"] == kind]
            costs[event] = round(statistics.median(seconds), 1)
        costs["pull_request"] = costs["source_only_push"]
        strategies[simulate_name] = costs
    return {
        "format": "ci-gocache-costs/1",
        "source": f"{source_name}, {result['finished']}, {result['config']['command']}",
        "notes": [
            "Seconds per run of each kind: the median job seconds of the benchmark's source-only pushes, and its one "
            "run each of a dependency bump, a new dependency and a Go version change (restore + go mod download + "
            "build + test + save; checkout and toolchain set-up left out).",
            "pull_request is not measured: taken equal to source_only_push.",
            "The benchmark's setup-go is v5 (key on go.sum): it appears here as setup-go-go.sum.",
            "One run on a shared 2-CPU machine; identical cold builds vary by about 30% there.",
        ],
        "strategies": strategies,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("result", nargs="?", default="bench/results/cache_benchmark.json")
    parser.add_argument("--out", default="bench/results/event_costs.json")
    args = parser.parse_args()
    result = json.loads(Path(args.result).read_text())
    Path(args.out).write_text(json.dumps(derive(result, args.result), indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
