"""How long `ci-gocache simulate` takes, and how much memory, on generated histories. Run by hand:

    python bench/simulate_speed.py [--commits 5000] [--shape small|many-modules|big-sums|all] [--keep DIR]

Each repository is written with `git fast-import`, with a source change in every commit and a merge
commit in about one in 50 (so the first-parent chain has the requested length). The shapes:

- small: three modules with go.sum files of 240 lines, a dependency bump in about one commit in 20;
- many-modules: 40 modules with go.sum files of 400 lines, a bump in about one commit in three;
- big-sums: ten modules with go.sum files of 1,500 lines, one of them bumped every fifth commit
  (the shape of the large real histories that took 15 s and 2.7 GB before simulate streamed).

For each it prints the wall time and peak memory of the whole command (process start included),
next to the bare `git log` that reads the same go-file history, as a ratio, against the goal of
10 s and 300 MB for `--last 5000`.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BUDGET_SECONDS = 10.0
BUDGET_MEGABYTES = 300.0
SHAPES = {
    # name: (modules, dependencies per go.sum (two lines each), chance of a bump per commit, bump every Nth commit)
    "small": (["", "services/api", "tools/gen"], 120, 0.05, 0),
    "many-modules": ([""] + [f"services/svc{index:02d}" for index in range(39)], 200, 0.33, 0),
    "big-sums": ([""] + [f"modules/m{index}" for index in range(9)], 750, 0.0, 5),
}
MODULES = SHAPES["small"][0]


def _go_sum(rng_state: dict[str, int], module: str, dependencies: int = 120) -> bytes:
    lines = []
    for index in range(dependencies):
        version = rng_state.get(f"{module}:{index}", 0)
        path = f"github.com/example{index % 17}/dep{index}"
        lines.append(f"{path} v1.{version}.0 h1:{'A' * 43}=\n")
        lines.append(f"{path} v1.{version}.0/go.mod h1:{'B' * 43}=\n")
    return "".join(lines).encode()


def _blob(data: bytes) -> bytes:
    return b"data %d\n" % len(data) + data + b"\n"


def generate(root: Path, commits: int, seed: int = 7, shape: str = "small") -> None:
    modules, dependencies, bump_chance, bump_every = SHAPES[shape]
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    rng = random.Random(seed)
    versions: dict[str, int] = {}
    stream: list[bytes] = []
    mark = 0
    main_tip = 0
    when = 1_700_000_000

    def commit(branch: str, message: str, files: dict[str, bytes], parents: list[int]) -> int:
        nonlocal mark, when
        mark += 1
        when += 600
        stream.append(f"commit refs/heads/{branch}\nmark :{mark}\n".encode())
        stream.append(f"committer Bench <bench@example.com> {when} +0000\n".encode())
        stream.append(_blob(message.encode()))
        if parents:
            stream.append(f"from :{parents[0]}\n".encode())
            for parent in parents[1:]:
                stream.append(f"merge :{parent}\n".encode())
        for path, data in files.items():
            stream.append(f"M 100644 inline {path}\n".encode() + _blob(data))
        return mark

    initial: dict[str, bytes] = {}
    for module in modules:
        prefix = f"{module}/" if module else ""
        name = module or "root"
        initial[f"{prefix}go.mod"] = f"module example.com/{name}\n\ngo 1.22\n".encode()
        initial[f"{prefix}go.sum"] = _go_sum(versions, module, dependencies)
        initial[f"{prefix}main.go"] = b"package main\n\nfunc main() {}\n"
    main_tip = commit("main", "initial", initial, [])
    produced = 1
    while produced < commits:
        files: dict[str, bytes] = {}
        module = rng.choice(modules)
        prefix = f"{module}/" if module else ""
        files[f"{prefix}main.go"] = f"package main\n\n// change {produced}\nfunc main() {{}}\n".encode()
        if (bump_every and produced % bump_every == 0) or rng.random() < bump_chance:
            dependency = rng.randrange(dependencies)
            versions[f"{module}:{dependency}"] = versions.get(f"{module}:{dependency}", 0) + 1
            files[f"{prefix}go.sum"] = _go_sum(versions, module, dependencies)
        if rng.random() < 0.02:
            # The topic commit is off the first-parent chain; the merge brings its changes in.
            side = commit("topic", f"topic {produced}", files, [main_tip])
            main_tip = commit("main", f"merge topic {produced}", {}, [main_tip, side])
        else:
            main_tip = commit("main", f"change {produced}", files, [main_tip])
        produced += 1
    subprocess.run(["git", "-C", str(root), "fast-import", "--quiet"], input=b"".join(stream), check=True)
    subprocess.run(["git", "-C", str(root), "checkout", "-q", "main"], check=True)


def timed(command: list[str]) -> tuple[float, float, str]:
    """Wall seconds, peak resident megabytes of the command (measured by a fresh parent), and its output."""
    probe = ("import resource, subprocess, sys; completed = subprocess.run(sys.argv[1:], capture_output=True); "
             "sys.stdout.buffer.write(completed.stdout); "
             "sys.stderr.write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)); sys.exit(completed.returncode)")
    start = time.perf_counter()
    completed = subprocess.run([sys.executable, "-c", probe, *command], capture_output=True, text=True, check=True)
    return time.perf_counter() - start, int(completed.stderr.strip().splitlines()[-1]) / 1024, completed.stdout


def run_shape(root: Path, commits: int, shape: str) -> bool:
    if not (root / ".git").exists():
        start = time.perf_counter()
        generate(root, commits, shape=shape)
        print(f"[{shape}] generated {commits} commits in {time.perf_counter() - start:.1f}s at {root}")
    git_seconds, _, _ = timed([
        "git", "-C", str(root), "log", "--first-parent", "--diff-merges=first-parent", "--raw", "--no-abbrev",
        "--format=%H", "--", "*go.sum", "*go.mod", "*go.work", "*go.work.sum",
    ])
    seconds, megabytes, output = timed([
        sys.executable, "-m", "ci_gocache", "simulate", str(root), "--last", str(commits), "--format", "json",
    ])
    pr_seconds, pr_megabytes, _ = timed([
        sys.executable, "-m", "ci_gocache", "simulate", str(root), "--last", str(commits), "--pull-requests",
        "--format", "json",
    ])
    result = json.loads(output)
    print(f"[{shape}] {result['commits']} commits, {result['go_file_changes']} changed go files")
    print(f"  bare git log of the go files:        {git_seconds:.2f}s")
    print(f"  ci-gocache simulate:                 {seconds:.2f}s, {megabytes:.0f} MB ({seconds / git_seconds:.1f}x git log)")
    print(f"  ci-gocache simulate --pull-requests: {pr_seconds:.2f}s, {pr_megabytes:.0f} MB")
    met = max(seconds, pr_seconds) <= BUDGET_SECONDS and max(megabytes, pr_megabytes) <= BUDGET_MEGABYTES
    print(f"  goal <= {BUDGET_SECONDS:.0f}s and <= {BUDGET_MEGABYTES:.0f} MB: {'met' if met else 'MISSED'}")
    return met


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commits", type=int, default=5000)
    parser.add_argument("--shape", choices=[*SHAPES, "all"], default="all")
    parser.add_argument("--keep", type=Path, default=None, help="Generate into this directory (one folder per shape) and keep it.")
    arguments = parser.parse_args()
    shapes = list(SHAPES) if arguments.shape == "all" else [arguments.shape]
    with tempfile.TemporaryDirectory() as scratch:
        base = arguments.keep or Path(scratch)
        results = [run_shape(base / shape, arguments.commits, shape) for shape in shapes]
    print("all goals met" if all(results) else "some goal MISSED")


if __name__ == "__main__":
    main()
