"""Golden before/after fixtures for the GitHub workflow patcher, checked with the real tools.

Each tests/fixtures/github/<case>/ holds repo/ (a repository before patching), expected/ (the
workflow files after patching; a file missing there must stay byte-identical) and optionally
case.json with extra `patch` arguments and the notices expected on stderr.
Regenerate with CI_GOCACHE_REGEN=1 and review the diff before committing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from support.cli import run_cli
from support.tools import actionlint_findings, tool, zizmor_findings

FIXTURES = Path(__file__).parent / "fixtures" / "github"
CASES = sorted(path.name for path in FIXTURES.iterdir() if (path / "repo").is_dir())


def _case(name: str) -> dict:
    config = FIXTURES / name / "case.json"
    return json.loads(config.read_text()) if config.exists() else {}


def _workflows(root: Path) -> dict[str, bytes]:
    directory = root / ".github" / "workflows"
    return {path.name: path.read_bytes() for path in sorted(directory.iterdir()) if path.is_file()}


@pytest.fixture(params=CASES)
def patched_case(request, tmp_path):
    name = request.param
    repo = tmp_path / "repo"
    shutil.copytree(FIXTURES / name / "repo", repo)
    before = _workflows(repo)
    config = _case(name)
    first = run_cli("patch", *config.get("args", []), cwd=repo)
    assert first.returncode == 0, first.stderr
    after = _workflows(repo)
    expected_dir = FIXTURES / name / "expected"
    if os.environ.get("CI_GOCACHE_REGEN"):
        shutil.rmtree(expected_dir, ignore_errors=True)
        for file_name, content in after.items():
            if content != before[file_name]:
                expected_dir.mkdir(parents=True, exist_ok=True)
                (expected_dir / file_name).write_bytes(content)
    return name, repo, before, after, first, config


def test_patch_matches_golden_files(patched_case):
    name, _, before, after, _, _ = patched_case
    expected_dir = FIXTURES / name / "expected"
    for file_name, content in after.items():
        expected_file = expected_dir / file_name
        expected = expected_file.read_bytes() if expected_file.exists() else before[file_name]
        assert content == expected, f"{name}/{file_name} differs from its golden file"


CASES_WITH_NOTICES = [name for name in CASES if _case(name).get("notices")]


@pytest.mark.parametrize("name", CASES_WITH_NOTICES)
def test_expected_notices_are_printed(name, tmp_path):
    repo = tmp_path / "repo"
    shutil.copytree(FIXTURES / name / "repo", repo)
    config = _case(name)
    result = run_cli("patch", *config.get("args", []), cwd=repo)
    assert result.returncode == 0, result.stderr
    for notice in config["notices"]:
        assert notice in result.stderr


def test_second_run_changes_nothing(patched_case):
    _, repo, _, after, _, config = patched_case
    check = run_cli("patch", "--check", *config.get("args", []), cwd=repo)
    assert check.returncode == 0, check.stdout + check.stderr
    again = run_cli("patch", *config.get("args", []), cwd=repo)
    assert again.returncode == 0
    assert _workflows(repo) == after


def test_patched_workflows_pass_schema_actionlint_and_zizmor(patched_case, tmp_path):
    name, repo, before, after, _, _ = patched_case
    original_dir = tmp_path / "original"
    original_dir.mkdir()
    for file_name, content in after.items():
        if content == before[file_name]:
            continue
        patched_file = repo / ".github" / "workflows" / file_name
        schema = subprocess.run(
            [tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(patched_file)],
            capture_output=True,
            text=True,
        )
        assert schema.returncode == 0, schema.stdout + schema.stderr
        original_file = original_dir / file_name
        original_file.write_bytes(before[file_name])
        lint_before = actionlint_findings(original_file)
        lint_after = actionlint_findings(patched_file)
        assert lint_after - lint_before == {}, f"{name}/{file_name}: new actionlint findings"
        found_before = zizmor_findings(original_file)
        found_after = zizmor_findings(patched_file)
        assert found_after["cache-poisoning"] == 0, f"{name}: cache-poisoning finding"
        new = {ident: count for ident, count in found_after.items() if count > found_before[ident]}
        assert not new, f"{name}/{file_name}: new zizmor findings {new}"
