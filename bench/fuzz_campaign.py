"""A long mutation-fuzzing campaign over the golden fixtures (the suite runs a bounded one:
tests/test_fuzz_mutations.py). Same mutations, same assertions (tests/support/mutation.py).

Each mutant is a fixture repository whose CI file got 1-4 byte or line mutations from a seeded
random generator, so any finding is reproduced with its seed. Run by hand:

    python bench/fuzz_campaign.py [--minutes 20] [--first-seed 0]

It prints the campaign size, the outcomes (changed / unchanged / skipped / error) and every
failing seed with its assertion, and writes bench/results/fuzz_campaign.json.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests")]

from support.mutation import check_mutant, mutate, subjects  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=20)
    parser.add_argument("--first-seed", type=int, default=0)
    arguments = parser.parse_args()
    deadline = time.monotonic() + arguments.minutes * 60
    outcomes: Counter[str] = Counter()
    findings: list[dict[str, object]] = []
    seed = arguments.first_seed
    began = time.monotonic()
    with tempfile.TemporaryDirectory() as scratch:
        while time.monotonic() < deadline:
            rng = random.Random(seed)
            subject = rng.choice(subjects())
            mutant = mutate((subject.repo / subject.relative).read_bytes(), rng, rng.randint(1, 4))
            try:
                outcomes[check_mutant(subject, mutant, Path(scratch))] += 1
            except Exception as failure:  # an AssertionError is a finding; anything else too
                outcomes["FAILED"] += 1
                findings.append(
                    {
                        "seed": seed,
                        "file": f"{subject.area}/{subject.case}/{subject.relative}",
                        "failure": "".join(traceback.format_exception_only(failure)).strip()[:2000],
                    }
                )
                print(f"seed {seed}: {findings[-1]['file']}: {findings[-1]['failure'][:300]}", flush=True)
            seed += 1
    total = sum(outcomes.values())
    summary = {
        "mutants": total,
        "seconds": round(time.monotonic() - began),
        "seeds": [arguments.first_seed, seed - 1],
        "subjects": len(subjects()),
        "outcomes": dict(outcomes),
        "findings": findings,
    }
    print(json.dumps({key: value for key, value in summary.items() if key != "findings"}, indent=2))
    (ROOT / "bench" / "results" / "fuzz_campaign.json").write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
