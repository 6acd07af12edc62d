"""Mutation fuzzing over the golden fixtures, bounded for CI (longer campaigns: bench/fuzz_campaign.py).

For every mutant (a fixture's CI file after a few byte or line mutations): no traceback, exit code
in {0, 1, 2}, nothing written to a file reported as an error, a second run changes nothing and reads
every patched file back without error, and no original word is lost beyond what the unmutated
fixture's own patch replaces. The assertions live in tests/support/mutation.py."""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support.mutation import check_mutant, mutate, subjects

# About 40 s on 2 shared cores; bench/fuzz_campaign.py runs thousands.
EXAMPLES = 40


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(
    subject=st.sampled_from(subjects()),
    seed=st.integers(0, 2**32 - 1),
    count=st.integers(1, 4),
)
def test_mutants_of_the_fixtures_keep_the_patch_promises(tmp_path_factory, subject, seed: int, count: int) -> None:
    original = (subject.repo / subject.relative).read_bytes()
    mutant = mutate(original, random.Random(seed), count)
    check_mutant(subject, mutant, tmp_path_factory.mktemp("mutant"))
