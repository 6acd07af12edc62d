"""The cost of a complete, pruned module cache before a module save (issue 10 point 6, 17 point 8).

The situation: a push bumps a dependency (github.com/prometheus/client_golang v1.23.2 -> v1.24.1,
with golang.org/x/tools beside it, from the Go module proxy). The module key misses, and
`...-gomod-` restores the previous module set; the job builds, and the save step uploads the
module cache. Four ways to prepare that upload, each from the same restored cache, side by side
in rotating order, several rounds:

    as-left       save what the job left: the old and the new module sets together (before)
    blunt         go clean -modcache, then go mod download from the network
    action        the action: go mod download, then delete versions no go.sum lists (action/modcache.py)
    raw-steps     the patcher's step: the restored cache moved aside as a file:// GOPROXY, go mod download

Printed: seconds of the preparation (median over rounds), module versions and bytes uploaded,
each as a ratio to as-left. Run by hand (network: the Go module proxy):

    python bench/module_completion.py [--rounds 3]
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

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from ci_gocache.action import modcache  # noqa: E402
from ci_gocache.targets.github.workflow import _complete_modules_script  # noqa: E402

MAIN_GO = """package main

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/tools/go/packages"
)

func main() {
	fmt.Println(prometheus.NewRegistry() != nil, packages.NeedName)
}
"""
OLD, NEW = "v1.23.2", "v1.24.1"
STRATEGIES = ["as-left", "blunt", "action", "raw-steps"]


def go_env(module_cache: Path, home: Path) -> dict[str, str]:
    return {
        "PATH": os.environ["PATH"], "HOME": str(home), "GOMODCACHE": str(module_cache),
        "GOCACHE": str(home / "gobuild"), "GOTOOLCHAIN": "local", "GOFLAGS": "-mod=mod",
        "GOPROXY": os.environ.get("GOPROXY", "https://proxy.golang.org,direct"), "RUNNER_OS": "Linux",
        "RUNNER_TEMP": str(home / "temp"),
    }


def run(command: list[str], cwd: Path, env: dict[str, str]) -> None:
    completed = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    if completed.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed in {cwd}:\n{completed.stderr[-2000:]}")


def remove(path: Path) -> None:
    if path.exists():
        subprocess.run(["chmod", "-R", "u+w", str(path)], check=True)
        shutil.rmtree(path)


def measure(path: Path) -> tuple[int, int]:
    versions = sum(1 for _ in (path / "cache" / "download").rglob("@v/*.zip"))
    size = sum(file.stat().st_size for file in path.rglob("*") if file.is_file() and not file.is_symlink())
    return versions, size


def prepare(work: Path) -> tuple[Path, Path, Path]:
    """Old and new module (go.mod, go.sum, main.go), and the module cache of the old one plus the job's build."""
    old, new, restored = work / "old", work / "new", work / "restored"
    old.mkdir(parents=True)
    (old / "main.go").write_text(MAIN_GO)
    (old / "go.mod").write_text(
        f"module example.com/modbench\n\ngo 1.26.0\n\nrequire (\n\tgithub.com/prometheus/client_golang {OLD}\n\tgolang.org/x/tools v0.45.0\n)\n"
    )
    env = go_env(work / "gen-cache", work)
    run(["go", "mod", "tidy"], old, env)
    shutil.copytree(old, new)
    run(["go", "get", f"github.com/prometheus/client_golang@{NEW}"], new, env)
    run(["go", "mod", "tidy"], new, env)
    env = go_env(restored, work)
    run(["go", "mod", "download"], old, env)  # what `...-gomod-` restores
    run(["go", "build", "./..."], new, env)  # the job, on the bumped go.sum
    return old, new, restored


def one(strategy: str, new: Path, restored: Path, scratch: Path) -> dict[str, float]:
    remove(scratch)
    scratch.mkdir(parents=True)
    (scratch / "temp").mkdir()
    module_cache = scratch / "gomod"
    subprocess.run(["cp", "-a", str(restored), str(module_cache)], check=True)
    env = go_env(module_cache, scratch)
    env["GOCACHE"] = str(scratch.parent / "gobuild")  # shared: the offline check below is not what is measured
    started = time.perf_counter()
    if strategy == "blunt":
        run(["go", "clean", "-modcache"], new, env)
        run(["go", "mod", "download"], new, env)
    elif strategy == "action":
        problems = modcache.download(new, ["go.sum"], env)
        if problems:
            raise SystemExit(f"go mod download: {problems}")
        modcache.prune(str(module_cache), modcache.listed_versions(new, ["go.sum"]))
    elif strategy == "raw-steps":
        script = "\n".join(_complete_modules_script(["."]))
        step_env = {**env, "MODULE_CACHE": str(module_cache), "RESTORED_FROM": "gocache-v1-Linux-X64-gomod-"}
        run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script], new, step_env)
    seconds = time.perf_counter() - started
    offline = subprocess.run(["go", "build", "./..."], cwd=new, env={**env, "GOPROXY": "off"}, capture_output=True, text=True)
    if offline.returncode != 0:
        raise SystemExit(f"{strategy}: the prepared cache does not build the module offline:\n{offline.stderr[-1500:]}")
    versions, size = measure(module_cache)
    remove(scratch)
    return {"seconds": seconds, "versions": versions, "bytes": size}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="modbench-") as temp:
        work = Path(temp)
        _, new, restored = prepare(work)
        results: dict[str, list[dict[str, float]]] = {name: [] for name in STRATEGIES}
        for round_number in range(args.rounds):
            order = STRATEGIES[round_number % len(STRATEGIES):] + STRATEGIES[: round_number % len(STRATEGIES)]
            for strategy in order:
                results[strategy].append(one(strategy, new, restored, work / "scratch"))
        remove(work / "restored")
        remove(work / "gen-cache")
    base = {key: statistics.median(r[key] for r in results["as-left"]) for key in ("seconds", "versions", "bytes")}
    print(f"load average {os.getloadavg()[0]:.1f}; {args.rounds} rounds; median seconds of the preparation")
    print("| strategy | seconds | module versions saved | MiB saved | saved vs as-left |")
    print("|---|---|---|---|---|")
    for name in STRATEGIES:
        seconds = statistics.median(r["seconds"] for r in results[name])
        versions = statistics.median(r["versions"] for r in results[name])
        size = statistics.median(r["bytes"] for r in results[name])
        print(f"| {name} | {seconds:.2f} | {versions:.0f} | {size / 2**20:.1f} | {size / base['bytes']:.2f}x |")


if __name__ == "__main__":
    main()
