"""Large workflows: is `patch` linear in the number of jobs, and how long does a 3,000-job workflow take?

Generates workflows of 300 and 3,000 Go jobs (and a plain 110,000-variable `env:` with no alias)
and times `ci-gocache patch` on each as a fresh process, side by side in one run:

  steps    --dry-run with the default style: the 3,000-job result (about 12 MB) is over the size
           limit, so it is refused before it is verified
  action   --dry-run --style action: shorter steps, the 3,000-job result (2.1 MB) is verified and printed
  write    --style action without --dry-run: the same, written to disk (a fresh copy each run)
  plain    the env file (over 220,000 YAML nodes, no alias; once refused as "an alias bomb?")
  gitlab   --dry-run on a .gitlab-ci.yml of 300 and 3,000 alike Go jobs

The ratio 3000/300 tells linearity (10 is linear). With `--against OTHER/src` every run of this
checkout alternates with one of that checkout's (an earlier commit, `git worktree add`), and
the last column is this one's best CPU time over the other's. Run by hand:

    python bench/large_workflows.py [--repeat 3] [--against /tmp/base/src]
"""

from __future__ import annotations

import argparse
import compileall
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from support.large_workflows import gitlab_jobs_pipeline, go_jobs_workflow, plain_env_workflow, repo_with  # noqa: E402

ACTION_ARGS = ["--style", "action", "--action-ref", "0" * 40, "--action-version", "v1.0.0"]
CASES = (("steps", ["--dry-run"]), ("action", ["--dry-run", *ACTION_ARGS]), ("write", ACTION_ARGS))


def timed(repo: Path, args: list[str], source: Path) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds of the child, exit code. A run that writes works on a copy."""
    scratch = None
    if "--dry-run" not in args:
        scratch = Path(tempfile.mkdtemp(prefix="large-write-"))
        repo = Path(shutil.copytree(repo, scratch / "repo"))
    try:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        began = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-m", "ci_gocache", "patch", *args],
            cwd=repo, capture_output=True, env={**os.environ, "PYTHONPATH": str(source)}, timeout=1800,
        )
        wall = time.perf_counter() - began
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    finally:
        if scratch is not None:
            shutil.rmtree(scratch)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), result.returncode


def best_of(repo: Path, args: list[str], sources: list[Path], repeat: int) -> list[tuple[float, float, int]]:
    """The best (least CPU) run of each source, runs alternating between the sources."""
    runs: list[list[tuple[float, float, int]]] = [[] for _ in sources]
    for _ in range(repeat):
        for index, source in enumerate(sources):
            runs[index].append(timed(repo, args, source))
    return [min(each, key=lambda run: run[1]) for each in runs]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--against", type=Path, help="another checkout's src directory, run alternately")
    arguments = parser.parse_args()
    sources = [ROOT / "src"] + ([arguments.against.resolve()] if arguments.against else [])
    for source in sources:  # as pip leaves an installed package (PYTHONDONTWRITEBYTECODE is set here)
        compileall.compile_dir(str(source), quiet=1)
    with tempfile.TemporaryDirectory() as scratch:
        base = Path(scratch)
        repos = {jobs: repo_with(base / f"jobs-{jobs}", go_jobs_workflow(jobs)) for jobs in (300, 3000)}
        plain = repo_with(base / "plain", plain_env_workflow(110_000))
        pipelines = {jobs: repo_with(base / f"gitlab-{jobs}", "", gitlab_jobs_pipeline(jobs)) for jobs in (300, 3000)}
        rows = []
        for label, args in CASES:
            rows.append((label, {jobs: best_of(repo, args, sources, arguments.repeat) for jobs, repo in repos.items()}))
        rows.append(("plain", {110_000: best_of(plain, ["--dry-run"], sources, arguments.repeat)}))
        rows.append(("gitlab", {jobs: best_of(repo, ["--dry-run"], sources, arguments.repeat) for jobs, repo in pipelines.items()}))
    print(f"load average after the runs: {os.getloadavg()[0]:.2f}")
    print(f"{'case':7} {'size':>7} {'this checkout':>30} {'other checkout':>30} {'this/other':>10} {'3000/300':>9}")
    for label, by_size in rows:
        for size, results in by_size.items():
            cells = [f"{wall:6.2f}s wall {cpu:6.2f}s CPU (exit {code})" for wall, cpu, code in results]
            ratio = f"{results[0][1] / results[1][1]:10.2f}" if len(results) > 1 else ""
            linear = f"{by_size[3000][0][1] / by_size[300][0][1]:9.1f}" if size == 3000 else ""
            print(f"{label:7} {size:>7} {cells[0]:>30} {cells[1] if len(cells) > 1 else '':>30} {ratio:>10} {linear:>9}")


if __name__ == "__main__":
    main()
