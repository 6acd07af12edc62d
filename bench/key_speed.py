"""Key speed: the action's key computation against `find | sort | xargs sha256sum | sha256sum`.

Generates a monorepo of 500 modules in 50,000 files, then times, side by side in one run and
each as a fresh process (as the action runs it):

  shell     bash -c 'find . -name go.sum | sort | xargs sha256sum | sha256sum'
  walk      the action's keys code with modules: '**/go.sum' (walks the whole tree, like find)
  go.work   the action's keys code with the default modules input and a go.work at the root
            (reads go.work and the 500 go.sum files, no walk)

Target (issue 3): key computation no more than 1.5x the shell pipeline. Run by hand:

    python bench/key_speed.py [--modules 500] [--files 50000] [--repeat 7]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
SHELL = "find . -name go.sum | sort | xargs sha256sum | sha256sum"
KEYS = (
    "import sys; sys.path.insert(0, {src!r});"
    "from pathlib import Path; from ci_gocache import keys;"
    "k = keys.workspace_keys(Path('.'), {modules!r}, os_name='Linux', arch='X64', go_version='go1.23.4', job='build', run='1-1');"
    "print(len(k.sum_files), k.module_key)"
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
    (root / "go.work").write_text("go 1.23\n\nuse (\n" + "".join(f"\t{use}\n" for use in uses) + ")\n")


def timed(command: list[str], cwd: Path) -> tuple[float, str]:
    started = time.perf_counter()
    completed = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=True)
    return time.perf_counter() - started, completed.stdout.strip()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--modules", type=int, default=500)
    parser.add_argument("--files", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="ci-gocache-keyspeed-"))
    try:
        generate(root, args.modules, args.files)
        count = sum(len(names) for _, _, names in os.walk(root))
        print(f"monorepo: {args.modules} modules, {count} files in {root}")
        commands = {
            "shell": ["bash", "-c", SHELL],
            "walk": [sys.executable, "-S", "-c", KEYS.format(src=str(SRC), modules=["**/go.sum"])],
            "go.work": [sys.executable, "-S", "-c", KEYS.format(src=str(SRC), modules=[])],
        }
        for command in commands.values():  # warm the page cache once for everyone
            timed(command, root)
        samples: dict[str, list[float]] = {name: [] for name in commands}
        outputs = {}
        for _ in range(args.repeat):  # interleaved, so drift hits all alike
            for name, command in commands.items():
                seconds, outputs[name] = timed(command, root)
                samples[name].append(seconds)
        shell = statistics.median(samples["shell"])
        print(f"{'':8} {'median':>9} {'min':>9}  ratio to shell")
        for name, values in samples.items():
            median = statistics.median(values)
            print(f"{name:8} {median * 1000:7.1f}ms {min(values) * 1000:7.1f}ms  {median / shell:5.2f}x")
        print(f"keys found {outputs['walk'].split()[0]} sum files (walk), {outputs['go.work'].split()[0]} (go.work)")
        worst = max(statistics.median(samples["walk"]), statistics.median(samples["go.work"])) / shell
        print(f"target <= 1.5x: {'met' if worst <= 1.5 else 'NOT met'} (worst ratio {worst:.2f}x)")
    finally:
        shutil.rmtree(root)
    return 0


if __name__ == "__main__":
    sys.exit(main())
