"""CLI start-up and `patch --check` speed, side by side in one run, as ratios.

Each command runs as a fresh process, alternating with its baseline, `--repeat` times; the
figures are medians of wall time and of CPU time (user + system of the process and its
children: the steadier figure on a shared, loaded machine). A goal is met when both ratios are.

  --version        `ci-gocache --version`           ÷ `python -c "import click"`      goal ≤ 1.5x
  --help           `ci-gocache --help`              ÷ `python -c "import click"`      (shown)
  key --help       `ci-gocache key --help`          ÷ `python -c "import click"`      (shown)
  patch --check    `ci-gocache patch --check FILES` ÷ `check-jsonschema --builtin-schema
                   vendor.github-workflows FILES` (the pre-commit hook users already run)  goal ≤ 1x

`--workflows DIR` names a folder of real workflow files (for example a clone of a public Go
project's .github/workflows); without it the bench uses the GitHub golden fixtures' originals.
Run by hand:

    python bench/startup_speed.py [--workflows DIR] [--repeat 11] [--json bench/results/startup_speed.json]
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src"


def _timed(command: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and CPU seconds of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    completed = subprocess.run(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if completed.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(command)} exited {completed.returncode}")
    return elapsed, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _pair(ours: list[str], baseline: list[str], cwd: Path, env: dict[str, str], repeat: int) -> dict[str, float]:
    _timed(ours, cwd, env)  # warm the page cache and .pyc files for both
    _timed(baseline, cwd, env)
    ours_runs, baseline_runs = [], []
    for _ in range(repeat):
        ours_runs.append(_timed(ours, cwd, env))
        baseline_runs.append(_timed(baseline, cwd, env))
    figures: dict[str, float] = {}
    for index, unit in ((0, "s"), (1, "cpu_s")):
        ours_median = statistics.median(run[index] for run in ours_runs)
        baseline_median = statistics.median(run[index] for run in baseline_runs)
        figures[f"ours_{unit}"] = round(ours_median, 4)
        figures[f"baseline_{unit}"] = round(baseline_median, 4)
        figures["ratio" if unit == "s" else "cpu_ratio"] = round(ours_median / baseline_median, 2)
    return figures


def _workflow_copy(source: Path | None, into: Path) -> list[str]:
    target = into / ".github" / "workflows"
    target.mkdir(parents=True)
    if source is not None:
        files = sorted(path for path in source.iterdir() if path.suffix in (".yml", ".yaml"))
    else:
        files = sorted((REPO / "tests" / "fixtures" / "github").glob("*/repo/.github/workflows/*.y*ml"))
    names = []
    for index, path in enumerate(files):
        name = path.name if source is not None else f"{index:03d}-{path.name}"
        shutil.copy(path, target / name)
        names.append(f".github/workflows/{name}")
    return names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workflows", type=Path, help="a folder of real workflow files")
    parser.add_argument("--repeat", type=int, default=11)
    parser.add_argument("--json", type=Path, help="write the figures here too")
    arguments = parser.parse_args()
    # As pip leaves an installed package: byte-compiled. Without this, a PYTHONDONTWRITEBYTECODE
    # in the environment would make every timed run compile the package from source.
    compileall.compile_dir(str(SRC), quiet=1)
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    cli = [sys.executable, "-m", "ci_gocache"]
    click_import = [sys.executable, "-c", "import click"]
    check_jsonschema = shutil.which("check-jsonschema")
    if check_jsonschema is None:
        raise SystemExit("check-jsonschema is not installed: pip install check-jsonschema")
    results: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        subprocess.run(["git", "init", "-q"], cwd=root, check=True)
        results["--version"] = _pair([*cli, "--version"], click_import, root, env, arguments.repeat)
        results["--help"] = _pair([*cli, "--help"], click_import, root, env, arguments.repeat)
        results["key --help"] = _pair([*cli, "key", "--help"], click_import, root, env, arguments.repeat)
        files = _workflow_copy(arguments.workflows, root)
        results["patch --check"] = _pair(
            [*cli, "patch", "--check", *files],
            [check_jsonschema, "--builtin-schema", "vendor.github-workflows", *files],
            root,
            env,
            arguments.repeat,
        )
        results["workflow files"] = len(files)
    results["goals"] = {"--version": 1.5, "patch --check": 1.0}
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; medians of {arguments.repeat} alternating runs")
    print(f"{'what':<16}{'wall':>9}{'baseline':>10}{'ratio':>7}{'CPU':>9}{'baseline':>10}{'ratio':>7}  goal")
    for name, figures in results.items():
        if isinstance(figures, dict) and "ratio" in figures:
            goal = results["goals"].get(name)  # type: ignore[union-attr]
            worst = max(figures["ratio"], figures["cpu_ratio"])
            verdict = "" if goal is None else f"≤ {goal}x: {'met' if worst <= goal else 'missed'}"
            print(
                f"{name:<16}{figures['ours_s']:>8.3f}s{figures['baseline_s']:>9.3f}s{figures['ratio']:>6.2f}x"
                f"{figures['ours_cpu_s']:>8.3f}s{figures['baseline_cpu_s']:>9.3f}s{figures['cpu_ratio']:>6.2f}x  {verdict}"
            )
    print(f"(patch --check and check-jsonschema on {results['workflow files']} workflow files)")
    if arguments.json:
        arguments.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
