"""Key speed: the action's key phase and `ci-gocache key` against `find | sort | xargs sha256sum | sha256sum`.

Generates a monorepo of 500 modules in 50,000 files (plus a .git, testdata and vendor trees the
walk must skip), then times, side by side in one run, each as a fresh process:

  shell          bash -c 'find . -name go.sum | sort | xargs sha256sum | sha256sum'
  action         the action's key phase exactly as action.yml runs it (`python -I -S -c ...
                 keys`, `go env` included), modules '**/go.sum': one walk of the whole tree
  action-auto    the same with GOTOOLCHAIN unset (Go's default, auto): the phase then also reads
                 every keyed module's go.mod for the Go version a build would switch to
  action-work    the same with the default modules input and a go.work at the root (reads
                 go.work and the 500 go.sum files, no walk)
  cli            `ci-gocache key .` (no go.mod or go.work at the root: every go.sum below it), run
                 as pip installs it: the console script beside this Python
  cli-on-PATH    the same through the `ci-gocache` on PATH when that is another program, such as
                 a pyenv shim (a bash script that starts more processes); shown, not a target

Targets (issue 18): action <= 1.5x shell, cli <= 2x shell. Run by hand:

    python bench/key_speed.py [--modules 500] [--files 50000] [--repeat 7]
"""

from __future__ import annotations

import argparse
import compileall
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
SHELL = "find . -name go.sum | sort | xargs sha256sum | sha256sum"
# The keys step of action.yml, verbatim but for the path.
ACTION = (
    "import sys; sys.path[:] = [p for p in sys.path if p not in ('', '.')]; sys.path.insert(0, sys.argv[1]); "
    "from ci_gocache.action.runtime import main; sys.exit(main(sys.argv[2:]))"
)


def generate(root: Path, modules: int, files: int) -> None:
    per_module = files // modules  # go.mod + go.sum + .go files
    uses = []
    for index in range(modules):
        module = root / "services" / f"svc{index:03d}"
        uses.append(f"./services/svc{index:03d}")
        module.mkdir(parents=True)
        (module / "go.mod").write_text(f"module example.com/svc{index:03d}\n\ngo 1.23\n")
        (module / "go.sum").write_text(
            "".join(f"example.com/dep{dep} v1.{index % 7}.{dep} h1:{'a' * 43}=\n" for dep in range(40))
        )
        for number in range(per_module - 2):
            package = module / "internal" / f"pkg{number % 10}"
            package.mkdir(parents=True, exist_ok=True)
            (package / f"file{number}.go").write_text(f"package pkg{number % 10}\n")
    (root / "go.work.off").write_text("go 1.23\n\nuse (\n" + "".join(f"\t{use}\n" for use in uses) + ")\n")
    # What Go (and the walk) skips: version control, test data, vendored code.
    for skipped in (".git/objects", "services/svc000/testdata", "services/svc001/vendor/example.com/dep"):
        directory = root / skipped
        directory.mkdir(parents=True, exist_ok=True)
        for number in range(200):
            (directory / f"f{number}").write_text("x\n")
    (root / "services/svc001/vendor/example.com/dep/go.sum").write_text("vendored\n")


def action_env(root: Path, temp: Path, modules: str) -> dict[str, str]:
    return {
        **os.environ,
        "GITHUB_WORKSPACE": str(root),
        "RUNNER_TEMP": str(temp),
        "RUNNER_OS": "Linux",
        "RUNNER_ARCH": "X64",
        "GITHUB_JOB": "build",
        "CI_GOCACHE_MODULES": modules,
        "GOTOOLCHAIN": "local",
        "GOFLAGS": "-mod=mod",
        "GOWORK": "off",
        "GOCACHE": str(temp / "go-build"),  # a fresh runner's: empty
    }


def timed(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> tuple[float, float, str]:
    """Wall seconds, CPU seconds (user + system of the process and its children) and stdout.

    CPU time is the steadier figure on a shared, loaded machine: it counts the work done, not
    the time spent waiting for a core."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    completed = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=True, env=env)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, completed.stdout.strip()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--modules", type=int, default=500)
    parser.add_argument("--files", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    # As pip leaves an installed package: byte-compiled. Without this, a PYTHONDONTWRITEBYTECODE
    # in the environment would make every timed run compile the package from source.
    compileall.compile_dir(str(SRC), quiet=1)
    root = Path(tempfile.mkdtemp(prefix="ci-gocache-keyspeed-"))
    try:
        generate(root, args.modules, args.files)
        count = sum(len(names) for _, _, names in os.walk(root))
        print(f"monorepo: {args.modules} modules, {count} files in {root}")
        temp = Path(tempfile.mkdtemp(prefix="ci-gocache-keyspeed-temp-"))
        cli = str(Path(sys.executable).parent / ("ci-gocache.exe" if os.name == "nt" else "ci-gocache"))
        if not os.path.isfile(cli):
            raise SystemExit(f"no {cli}: pip install -e . first")
        cli_on_path = shutil.which("ci-gocache")
        cli_env = {**os.environ, "PYTHONPATH": str(SRC), "GOTOOLCHAIN": "local"}
        action = [sys.executable, "-I", "-S", "-c", ACTION, str(SRC), "keys"]
        commands = {
            "shell": (["bash", "-c", SHELL], None),
            "action": (action, action_env(root, temp, "**/go.sum")),
            "action-auto": (action, {name: value for name, value in action_env(root, temp, "**/go.sum").items() if name != "GOTOOLCHAIN"}),
            "action-work": (action, {**action_env(root, temp, ""), "GOWORK": ""}),
            "cli": ([cli, "key", "."], cli_env),
        }
        if cli_on_path and os.path.realpath(cli_on_path) != os.path.realpath(cli):
            commands["cli-on-PATH"] = ([cli_on_path, "key", "."], cli_env)
        (root / "go.work.off").rename(root / "go.work.keep")
        outputs = {}
        samples: dict[str, list[float]] = {name: [] for name in commands}
        cpu_samples: dict[str, list[float]] = {name: [] for name in commands}
        for round_number in range(args.repeat + 1):  # round 0 warms the page cache; interleaved
            for name, (command, env) in commands.items():
                work = name == "action-work"
                if work:
                    (root / "go.work.keep").rename(root / "go.work")
                try:
                    seconds, cpu, outputs[name] = timed(command, root, env)
                finally:
                    if work:
                        (root / "go.work").rename(root / "go.work.keep")
                if round_number:
                    samples[name].append(seconds)
                    cpu_samples[name].append(cpu)
        shell = statistics.median(samples["shell"])
        shell_cpu = statistics.median(cpu_samples["shell"])
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; {args.repeat} interleaved rounds")
        print(f"{'':12} {'wall med':>9} {'wall min':>9} {'ratio':>6}  {'CPU med':>9} {'ratio':>6}")
        for name, values in samples.items():
            median, cpu_median = statistics.median(values), statistics.median(cpu_samples[name])
            print(
                f"{name:12} {median * 1000:7.1f}ms {min(values) * 1000:7.1f}ms {median / shell:5.2f}x"
                f"  {cpu_median * 1000:7.1f}ms {cpu_median / shell_cpu:5.2f}x"
            )
        for name in ("action", "action-work"):
            print(f"{name}: {outputs[name].splitlines()[0]}")
        if outputs["action-auto"] != outputs["action"]:
            raise SystemExit("action-auto printed other keys than action")
        print(f"cli: {outputs['cli'].splitlines()[1]}")
        for name, target in (("action", 1.5), ("action-auto", 1.5), ("action-work", 1.5), ("cli", 2.0)):
            ratio = statistics.median(samples[name]) / shell
            cpu_ratio = statistics.median(cpu_samples[name]) / shell_cpu
            verdict = "met" if max(ratio, cpu_ratio) <= target else "NOT met"
            print(f"target {name} <= {target}x: {verdict} (wall {ratio:.2f}x, CPU {cpu_ratio:.2f}x)")
        shutil.rmtree(temp)
    finally:
        shutil.rmtree(root)
    return 0


if __name__ == "__main__":
    sys.exit(main())
