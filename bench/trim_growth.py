"""Trimming: the saved build cache's size over 20 simulated CI runs, with and without trim.

Each run is a fresh runner that runs the action's own steps (tests/support/composite.py, with
the tarball stand-in for the cache service in tests/support/cachestore.py), `go build ./...`
on a generated module, then ci-gocache/save on a push to the default branch. Between runs one
package of a 20-package chain changes, so that package and everything importing it compile
anew, as a day of commits does. Both variants build the same commits, side by side. Run by hand:

    python bench/trim_growth.py [--runs 20]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "src"))

from support.cachestore import CacheStore  # noqa: E402
from support.composite import Job, main_action, save_action  # noqa: E402

from ci_gocache.action import trim  # noqa: E402

PACKAGES = 20


def write_module(workspace: Path, revision: int) -> None:
    """A chain p00 <- p01 <- ... <- p19 <- main; commit `revision` edits one package."""
    (workspace / "go.mod").write_text("module example.com/growth\n\ngo 1.22\n")
    changed = (revision * 7) % PACKAGES
    for index in range(PACKAGES):
        package = workspace / f"p{index:02d}"
        package.mkdir(parents=True, exist_ok=True)
        imports = f'import "example.com/growth/p{index - 1:02d}"\n\n' if index else ""
        base = f"p{index - 1:02d}.Value()" if index else "0"
        stamp = revision if index == changed else 0
        functions = "".join(
            f"func F{number}(x int) int {{ return x*{number + 3} + {stamp} + len(\"{'x' * (number % 17)}\") }}\n"
            for number in range(150)
        )
        (package / "p.go").write_text(
            f"package p{index:02d}\n\n{imports}// Value depends on the packages below.\n"
            f"func Value() int {{ return {base} + F1(2) }}\n\n{functions}"
        )
    (workspace / "main.go").write_text(
        f'package main\n\nimport "example.com/growth/p{PACKAGES - 1:02d}"\n\nfunc main() {{ println(p{PACKAGES - 1:02d}.Value()) }}\n'
    )


def remove_tree(path: Path) -> None:
    if path.exists():
        subprocess.run(["chmod", "-R", "u+w", str(path)], check=True)
        shutil.rmtree(path)


def simulate(base: Path, runs: int, trimming: bool) -> list[dict]:
    store = CacheStore(base / "store")
    home = base / "runner"
    rows = []
    for run in range(1, runs + 1):
        for name in ("gobuild", "gomod", "temp", "workspace"):
            remove_tree(home / name)
        workspace = home / "workspace"
        workspace.mkdir(parents=True)
        write_module(workspace, run)
        env = {"GOCACHE": str(home / "gobuild"), "GOMODCACHE": str(home / "gomod"), "GOFLAGS": "-buildvcs=false", "GOTOOLCHAIN": "local"}
        job = Job(workspace, home / "temp", store, run_id=str(run), env=env)
        restore = job.use_action(main_action(), {"trim": "true" if trimming else "false", "key-prefix": "bench"})
        build = job.run_shell("go build ./...")
        if build.outcome != "success":
            raise SystemExit(build.stderr)
        used_files, used_bytes = trim.directory_size(str(home / "gobuild"))
        save = job.use_action(save_action())
        saved = [entry for entry in store.entries() if entry.key == restore.outputs["build-key"]]
        rows.append(
            {
                "run": run,
                "hit": restore.outputs["build-hit"],
                "entries": len(trim.iter_entries(str(home / "gobuild"))),
                "cache_bytes": trim.directory_size(str(home / "gobuild"))[1],
                "after_build_bytes": used_bytes,
                "archive_bytes": saved[0].size if saved else 0,
                "trimmed": int(save.outputs.get("trimmed-entries") or 0),
            }
        )
    return rows


def mib(count: int) -> str:
    return f"{count / (1 << 20):7.1f} MiB"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="ci-gocache-trim-"))
    try:
        results = {}
        for trimming in (False, True):
            label = "trim" if trimming else "no trim"
            results[label] = simulate(base / label.replace(" ", "-"), args.runs, trimming)
        print(f"{'run':>4} | {'no trim: saved cache':>22} {'entries':>8} | {'trim: saved cache':>19} {'entries':>8} {'dropped':>8}")
        for plain, trimmed in zip(results["no trim"], results["trim"]):
            print(
                f"{plain['run']:>4} | {mib(plain['cache_bytes']):>22} {plain['entries']:>8} | "
                f"{mib(trimmed['cache_bytes']):>19} {trimmed['entries']:>8} {trimmed['trimmed']:>8}"
            )
        plain, trimmed = results["no trim"][-1], results["trim"][-1]
        first = results["trim"][0]["cache_bytes"]
        print(f"after {args.runs} runs: without trimming {mib(plain['cache_bytes']).strip()} "
              f"(archive {mib(plain['archive_bytes']).strip()}), with trimming {mib(trimmed['cache_bytes']).strip()} "
              f"(archive {mib(trimmed['archive_bytes']).strip()}); first run {mib(first).strip()}")
        print(f"growth over the first run: without {plain['cache_bytes'] / first:.2f}x, with {trimmed['cache_bytes'] / first:.2f}x; "
              f"trimmed/untrimmed {trimmed['cache_bytes'] / plain['cache_bytes']:.2f}x")
    finally:
        remove_tree(base)
    return 0


if __name__ == "__main__":
    sys.exit(main())
