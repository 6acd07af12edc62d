"""How long `ci-gocache diagnose` takes on a large log, and how much memory. Run by hand:

    python bench/diagnose_speed.py [--megabytes 100] [--keep FILE]

The log is generated: GitHub Actions lines (timestamps, ##[group] markers, ANSI colours) of a
long `go test -v` job, `go: downloading` lines, 1-2 KB JSON lines, a 5 KB and a 1.8 KB
pathological line (long words built from the characters the rules' patterns accept, the shapes
that made the old rules super-linear) every 2,000 lines, and a real failure near the end. The
script prints the wall time and peak memory of the whole command (Python start-up included),
next to `grep -c` over the same file as a floor, with the ratio, and checks that the failure
was found. Goal (issue 12): 100 MB in under 20 s and under 100 MB of memory.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GOAL_SECONDS = 20.0
GOAL_MEGABYTES = 100.0
REPO = Path(__file__).resolve().parents[1]


def _pathological(rng: random.Random, length: int) -> str:
    """A word repeating what the old patterns nested, ended by the phrase that sends it to the rules
    (the shapes of tests/test_diagnose_fixtures.py: one 1.8 KB line of these took the old rules over 20 s)."""
    piece, ending = rng.choice([
        ("a/pkg/mod/", " permission denied"), ("@v1", ": permission denied"),
        ("x@v1:", " reading https://proxy.golang.org/@v/list: 404 Not Found"), ("a.b/", ": checksum mismatch"),
        ("Failed to save ", "Cache service"), ("go-build/", ": permission denied"),
    ])
    return (piece * (length // len(piece) + 1))[:length] + ending


def generate(path: Path, megabytes: int, seed: int = 11) -> int:
    rng = random.Random(seed)
    target = megabytes * 1024 * 1024
    written = 0
    number = 0
    with open(path, "w", encoding="utf-8") as handle:
        while written < target:
            number += 1
            stamp = f"2026-01-02T03:{number // 60000 % 60:02d}:{number // 1000 % 60:02d}.{number % 10_000_000:07d}Z "
            choice = number % 50
            if number % 2000 == 0:
                text = _pathological(rng, 5000 if number % 4000 == 0 else 1800)
            elif choice == 0:
                text = "##[group]Run go test -v ./..."
            elif choice < 10:
                text = f"go: downloading github.com/example{rng.randrange(500)}/mod{rng.randrange(90)} v1.{rng.randrange(40)}.0"
            elif choice < 12:
                text = json.dumps({"Time": "2026-01-02T03:04:05Z", "Action": "output", "Package": "example.com/app",
                                   "Output": "x" * rng.randrange(900, 1900)})
            elif choice < 14:
                text = f"\x1b[32;1m--- PASS: TestThing{number} (0.{rng.randrange(99):02d}s)\x1b[0m"
            else:
                text = f"=== RUN   TestThing{number}/case_{rng.randrange(1000)}"
            line = stamp + text + "\n"
            handle.write(line)
            written += len(line.encode())
        handle.write("2026-01-02T04:00:00.0000000Z go: github.com/acme/x@v1.2.3: verifying module: checksum mismatch\n")
        handle.write("2026-01-02T04:00:00.0000001Z \tdownloaded: h1:AAAA=\n")
        handle.write("2026-01-02T04:00:00.0000002Z \tsum.golang.org: h1:BBBB=\n")
    return number + 3


def _timed(command: list[str]) -> tuple[float, float, str, float]:
    """Wall seconds, peak megabytes, output, and CPU seconds (user + system: steadier on a shared machine)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    completed = subprocess.run(command, capture_output=True, text=True, check=False,
                               env={**os.environ, "PYTHONPATH": str(REPO / "src")})
    seconds = time.perf_counter() - start
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if completed.returncode != 0:
        sys.exit(f"{command[0]} failed: {completed.stderr}")
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = usage.ru_utime - cpu_before.ru_utime + usage.ru_stime - cpu_before.ru_stime
    # ru_maxrss of children is the largest child so far: run the command under test first.
    return seconds, max(peak_kb, before) / 1024, completed.stdout, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=int, default=100)
    parser.add_argument("--keep", type=Path, default=None, help="Write the log here and keep it.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        log = args.keep or Path(scratch) / "big.log"
        lines = generate(log, args.megabytes)
        size = log.stat().st_size / 1024 / 1024
        seconds, peak, output, cpu = _timed([sys.executable, "-m", "ci_gocache", "diagnose", str(log), "--format", "json"])
        grep_seconds = min(_timed(["grep", "-c", "go:", str(log)])[0] for _ in range(3))
        load = os.getloadavg()[0]
        result = json.loads(output)
        found = any(finding["rule"] == "sumdb-mismatch" and finding["line"] == lines - 2 for finding in result["findings"])
        print(f"log: {size:.0f} MB, {lines:,} lines")
        print(f"ci-gocache diagnose: {seconds:.1f} s ({cpu:.1f} s CPU; load average {load:.1f}), peak {peak:.0f} MB "
              f"(goal < {GOAL_SECONDS:.0f} s and < {GOAL_MEGABYTES:.0f} MB: "
              f"{'met' if seconds < GOAL_SECONDS and peak < GOAL_MEGABYTES else 'MISSED'})")
        print(f"grep -c go: (a floor): {grep_seconds:.2f} s; ratio {seconds / grep_seconds:.0f}x")
        print(f"the failure at the end found at its line: {found}")


if __name__ == "__main__":
    main()
