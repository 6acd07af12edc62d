"""Patch throughput: 500 workflow files through the `ci-gocache patch` pipeline against a bare
ruamel.yaml round trip (load plus dump) of the same files, side by side in one run. By hand:

    python bench/patch_throughput.py [--files 500] [--rounds 5] [--results bench/results]

The files are copies of the GitHub fixtures' input workflows (tests/fixtures/github/*/repo),
each copy inside a copy of its fixture repository so that the pipeline sees the go.mod and
go.sum files the workflow builds. A round passes over all files: the pipeline as `patch`
drives it (discover, read, inspect, plan, apply, verify, the idempotence check; --check mode,
nothing written) with one RepoCache per round, and the bare round trip reading each file and
doing YAML().load then YAML().dump into memory. Rounds alternate between the two after one
warm-up round of each; the ratio is of the median rounds. Target: at most 2x.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(REPO / "src"))

from ruamel.yaml import YAML  # noqa: E402

from ci_gocache.patching import RepoCache, discover, patch_file  # noqa: E402
from ci_gocache.targets.base import PatchOptions  # noqa: E402

FIXTURES = REPO / "tests" / "fixtures" / "github"
TARGET_RATIO = 2.0


def make_corpus(root: Path, count: int) -> list[Path]:
    fixtures = sorted(path.parent.parent.parent for path in FIXTURES.glob("*/repo/.github/workflows/*"))
    fixtures = sorted(set(fixtures))
    for fixture in fixtures:
        shutil.copytree(fixture, root / fixture.parent.name)
        for original in (root / fixture.parent.name / ".github" / "workflows").iterdir():
            original.unlink()
    files: list[Path] = []
    for index in range(count):
        fixture = fixtures[index % len(fixtures)]
        source = next(iter(sorted((fixture / ".github" / "workflows").iterdir())))
        target = root / fixture.parent.name / ".github" / "workflows" / f"copy{index:03d}{source.suffix}"
        shutil.copyfile(source, target)
        files.append(target)
    return files


def patch_one(candidate: Any, options: PatchOptions, repos: RepoCache) -> str:
    return patch_file(candidate, options, repos, write=False).status


def bare_one(path: Path) -> None:
    text = path.read_text(encoding="utf-8-sig")
    yaml = YAML()
    data = yaml.load(text)
    yaml.dump(data, io.StringIO())


def interleaved_round(files: list[Path], swap: bool) -> dict[str, Any]:
    """One pass over every file, each file through both sides back to back (the order
    alternating per file), so that a change in the machine's load hits both sides alike."""
    options = PatchOptions()
    clock = {"patch": [0.0, 0.0], "bare": [0.0, 0.0]}  # wall, CPU
    statuses: dict[str, int] = {}

    def timed(side: str, action: Any) -> Any:
        wall, cpu = time.perf_counter(), time.process_time()
        value = action()
        clock[side][0] += time.perf_counter() - wall
        clock[side][1] += time.process_time() - cpu
        return value

    repos = timed("patch", RepoCache)
    candidates = timed("patch", lambda: discover([str(path) for path in files], []))
    for index, (candidate, path) in enumerate(zip(candidates, files)):
        sides = ["patch", "bare"] if (index % 2 == 0) != swap else ["bare", "patch"]
        for side in sides:
            if side == "patch":
                status = timed("patch", lambda: patch_one(candidate, options, repos))
                statuses[status] = statuses.get(status, 0) + 1
            else:
                timed("bare", lambda: bare_one(path))
    return {"patch_wall": clock["patch"][0], "patch_cpu": clock["patch"][1],
            "bare_wall": clock["bare"][0], "bare_cpu": clock["bare"][1], "statuses": statuses}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--results", type=Path, default=BENCH / "results")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="patch-throughput-") as scratch:
        files = make_corpus(Path(scratch), args.files)
        statuses = interleaved_round(files, False)["statuses"]  # warm-up: imports, schemas
        rounds = []
        load = [os.getloadavg()[0]]
        for number in range(args.rounds):
            rounds.append(interleaved_round(files, number % 2 == 1))
            load.append(os.getloadavg()[0])

    def median(name: str) -> float:
        return statistics.median(entry[name] for entry in rounds)

    ratio = median("patch_wall") / median("bare_wall")
    cpu_ratio = median("patch_cpu") / median("bare_cpu")
    fastest_ratio = min(entry["patch_wall"] for entry in rounds) / min(entry["bare_wall"] for entry in rounds)
    result: dict[str, Any] = {
        "files": args.files,
        "rounds": args.rounds,
        "statuses": statuses,
        "per_round": [{key: round(value, 3) for key, value in entry.items() if key != "statuses"} for entry in rounds],
        "patch_median_seconds": round(median("patch_wall"), 3),
        "bare_median_seconds": round(median("bare_wall"), 3),
        "patch_files_per_second": round(args.files / median("patch_wall"), 1),
        "bare_files_per_second": round(args.files / median("bare_wall"), 1),
        "ratio": round(ratio, 3),
        "cpu_time_ratio": round(cpu_ratio, 3),
        "fastest_rounds_ratio": round(fastest_ratio, 3),
        "target": f"<= {TARGET_RATIO}",
        "met": ratio <= TARGET_RATIO,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "load_during": [round(value, 2) for value in load]},
    }
    walls = lambda name: ", ".join(f"{entry[name]:.2f}" for entry in rounds)  # noqa: E731
    markdown = (
        "# Patch throughput\n\n"
        f"`python bench/patch_throughput.py --files {args.files} --rounds {args.rounds}`: {args.files} workflow files "
        f"(copies of the GitHub fixtures; pipeline outcome per file: {statuses}), each file through both sides back "
        "to back in every round.\n\n"
        "| | median wall s | files/s | median CPU s | wall s per round |\n|---|---|---|---|---|\n"
        f"| ci-gocache patch pipeline (--check) | {median('patch_wall'):.3f} | {args.files / median('patch_wall'):.0f} | "
        f"{median('patch_cpu'):.3f} | {walls('patch_wall')} |\n"
        f"| bare ruamel.yaml round trip (load + dump) | {median('bare_wall'):.3f} | {args.files / median('bare_wall'):.0f} | "
        f"{median('bare_cpu'):.3f} | {walls('bare_wall')} |\n\n"
        f"Ratio: **{ratio:.2f}x** wall (CPU time {cpu_ratio:.2f}x, fastest rounds {fastest_ratio:.2f}x); target <= {TARGET_RATIO}x: "
        f"**{'met' if result['met'] else 'missed'}**. {os.cpu_count()} CPUs shared with other work, load average "
        f"{min(load):.1f} to {max(load):.1f} during the rounds.\n"
    )
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "patch_throughput.json").write_text(json.dumps(result, indent=1) + "\n")
    (args.results / "patch_throughput.md").write_text(markdown)
    print(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
