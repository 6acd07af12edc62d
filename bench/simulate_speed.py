"""How long `ci-gocache simulate` takes on a generated 5,000-commit repository. Run by hand:

    python bench/simulate_speed.py [--commits 5000] [--keep DIR]

The repository is written with `git fast-import`: three modules with go.sum files of a few
hundred lines, a source change in every commit, a dependency bump in about one commit in 20,
and a merge commit in about one in 50 (5,000 commits on the first-parent chain, plus the
merged topic commits). The script prints the wall time of the whole command
(process start included), the 10-second budget it must stay under, and, side by side, the time
of the bare `git log` that reads the same go-file history, as a ratio.
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BUDGET_SECONDS = 10.0
MODULES = ["", "services/api", "tools/gen"]


def _go_sum(rng_state: dict[str, int], module: str) -> bytes:
    lines = []
    for index in range(120):
        version = rng_state.get(f"{module}:{index}", 0)
        path = f"github.com/example{index % 17}/dep{index}"
        lines.append(f"{path} v1.{version}.0 h1:{'A' * 43}=\n")
        lines.append(f"{path} v1.{version}.0/go.mod h1:{'B' * 43}=\n")
    return "".join(lines).encode()


def _blob(data: bytes) -> bytes:
    return b"data %d\n" % len(data) + data + b"\n"


def generate(root: Path, commits: int, seed: int = 7) -> None:
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
    for module in MODULES:
        prefix = f"{module}/" if module else ""
        name = module or "root"
        initial[f"{prefix}go.mod"] = f"module example.com/{name}\n\ngo 1.22\n".encode()
        initial[f"{prefix}go.sum"] = _go_sum(versions, module)
        initial[f"{prefix}main.go"] = b"package main\n\nfunc main() {}\n"
    main_tip = commit("main", "initial", initial, [])
    produced = 1
    while produced < commits:
        files: dict[str, bytes] = {}
        module = rng.choice(MODULES)
        prefix = f"{module}/" if module else ""
        files[f"{prefix}main.go"] = f"package main\n\n// change {produced}\nfunc main() {{}}\n".encode()
        if rng.random() < 0.05:
            dependency = rng.randrange(120)
            versions[f"{module}:{dependency}"] = versions.get(f"{module}:{dependency}", 0) + 1
            files[f"{prefix}go.sum"] = _go_sum(versions, module)
        if rng.random() < 0.02:
            # The topic commit is off the first-parent chain; the merge brings its changes in.
            side = commit("topic", f"topic {produced}", files, [main_tip])
            main_tip = commit("main", f"merge topic {produced}", {}, [main_tip, side])
        else:
            main_tip = commit("main", f"change {produced}", files, [main_tip])
        produced += 1
    subprocess.run(["git", "-C", str(root), "fast-import", "--quiet"], input=b"".join(stream), check=True)
    subprocess.run(["git", "-C", str(root), "checkout", "-q", "main"], check=True)


def timed(command: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    completed = subprocess.run(command, capture_output=True, text=True, check=True)
    return time.perf_counter() - start, completed.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commits", type=int, default=5000)
    parser.add_argument("--keep", type=Path, default=None, help="Generate into this directory and keep it.")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        root = arguments.keep or Path(scratch) / "repo"
        if not (root / ".git").exists():
            start = time.perf_counter()
            generate(root, arguments.commits)
            print(f"generated {arguments.commits} commits in {time.perf_counter() - start:.2f}s at {root}")
        chain = subprocess.run(["git", "-C", str(root), "rev-list", "--first-parent", "--count", "HEAD"],
                               capture_output=True, text=True, check=True).stdout.strip()
        git_seconds, _ = timed([
            "git", "-C", str(root), "log", "--first-parent", "--diff-merges=first-parent", "--raw", "--no-abbrev",
            "--format=%H", "--", "*go.sum", "*go.mod", "*go.work", "*go.work.sum",
        ])
        simulate_seconds, output = timed([
            sys.executable, "-m", "ci_gocache", "simulate", str(root), "--last", str(arguments.commits), "--format", "json",
        ])
        pr_seconds, _ = timed([
            sys.executable, "-m", "ci_gocache", "simulate", str(root), "--last", str(arguments.commits),
            "--pull-requests", "--format", "json",
        ])
        import json

        result = json.loads(output)
        print(f"first-parent commits replayed: {result['commits']} (chain length {chain})")
        print(f"bare git log of the go files:        {git_seconds:.3f}s")
        print(f"ci-gocache simulate:                 {simulate_seconds:.3f}s"
              f"  ({simulate_seconds / git_seconds:.1f}x git log; {simulate_seconds / BUDGET_SECONDS:.0%} of the"
              f" {BUDGET_SECONDS:.0f}s budget)")
        print(f"ci-gocache simulate --pull-requests: {pr_seconds:.3f}s"
              f"  ({pr_seconds / BUDGET_SECONDS:.0%} of the budget)")
        for strategy in result["strategies"]:
            print(f"  {strategy['name']}: mod {strategy['mod']}, saves {strategy['saves']},"
                  f" downloads {strategy['module_downloads']}")
        verdict = "within" if max(simulate_seconds, pr_seconds) < BUDGET_SECONDS else "OVER"
        print(f"{verdict} the {BUDGET_SECONDS:.0f}s budget")


if __name__ == "__main__":
    main()
