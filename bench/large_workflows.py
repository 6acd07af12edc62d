"""Large workflows: is `patch` linear in the number of jobs, and how long does a 3,000-job workflow take?

Generates workflows of 300 and 3,000 Go jobs (and a plain 110,000-variable `env:` with no alias)
and times `ci-gocache patch` on each as a fresh process, side by side in one run:

  steps    --dry-run with the default style: the 3,000-job result (about 12 MB) is over the size
           limit, so it is refused before it is verified
  action   --dry-run --style action: shorter steps, the 3,000-job result (2.1 MB) is verified and printed
  plain    the env file (over 220,000 YAML nodes, no alias; once refused as "an alias bomb?")

The ratio 3000/300 tells linearity (10 is linear). Run by hand:

    python bench/large_workflows.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from support.large_workflows import go_jobs_workflow, plain_env_workflow, repo_with  # noqa: E402

ACTION_ARGS = ["--style", "action", "--action-ref", "0" * 40, "--action-version", "v1.0.0"]


def timed(repo: Path, args: list[str]) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds of the child, exit code."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "ci_gocache", "patch", "--dry-run", *args],
        cwd=repo, capture_output=True, env={**os.environ, "PYTHONPATH": str(ROOT / "src")}, timeout=1800,
    )
    wall = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), result.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        base = Path(scratch)
        repos = {
            jobs: repo_with(base / f"jobs-{jobs}", go_jobs_workflow(jobs))
            for jobs in (300, 3000)
        }
        plain = repo_with(base / "plain", plain_env_workflow(110_000))
        rows = []
        for label, args in (("steps", []), ("action", ACTION_ARGS)):
            best = {}
            for jobs, repo in repos.items():
                runs = [timed(repo, args) for _ in range(arguments.repeat)]
                best[jobs] = min(runs)
            rows.append((label, best))
        plain_best = min(timed(plain, []) for _ in range(arguments.repeat))
    print(f"{'style':8} {'300 jobs':>22} {'3000 jobs':>22} {'ratio (CPU)':>12}")
    for label, best in rows:
        cells = [f"{best[j][0]:6.2f}s wall {best[j][1]:6.2f}s CPU (exit {best[j][2]})" for j in (300, 3000)]
        print(f"{label:8} {cells[0]:>22} {cells[1]:>22} {best[3000][1] / best[300][1]:12.1f}")
    print(f"plain env file (110,000 variables): {plain_best[0]:.2f}s wall, {plain_best[1]:.2f}s CPU, exit {plain_best[2]}")


if __name__ == "__main__":
    main()
