"""One parametrised test walks every golden fixture of every CI target (tests/support/golden.py).

Per-target checks with the real tools (schemas, actionlint, zizmor, gitlab-ci-local, BuildKit's
front end) live beside each target's tests and reuse the same fixtures.
"""

from __future__ import annotations

import pytest

from support.cli import run_cli
from support.golden import all_cases, case_config, files_of, patch_case


@pytest.fixture(params=all_cases(), ids=lambda case: "/".join(case))
def patched(request, tmp_path):
    area, name = request.param
    return patch_case(area, name, tmp_path)


def test_patch_matches_golden_files(patched):
    assert patched.after.keys() == patched.before.keys(), "files were added or removed"
    for relative, content in patched.after.items():
        assert content == patched.expected(relative), f"{patched.area}/{patched.name}: {relative} differs from its golden file"


def test_second_run_changes_nothing(patched):
    args = patched.config.get("args", [])
    check = run_cli("patch", "--check", *args, cwd=patched.repo)
    assert check.returncode == 0, check.stdout + check.stderr
    assert run_cli("patch", *args, cwd=patched.repo).returncode == 0
    assert files_of(patched.repo) == patched.after


CASES_WITH_NOTICES = [case for case in all_cases() if case_config(*case).get("notices")]


@pytest.mark.parametrize("case", CASES_WITH_NOTICES, ids=lambda case: "/".join(case))
def test_expected_notices_are_printed(case, tmp_path):
    patched = patch_case(*case, tmp_path)
    for notice in patched.config["notices"]:
        assert notice in patched.stderr
