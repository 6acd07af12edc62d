"""Golden fixtures for the Dockerfile patcher, checked with BuildKit's own Dockerfile front end.

Each tests/fixtures/docker/<case>/ holds repo/ (a repository before patching), expected/ (the
Dockerfiles after patching; a file missing there must stay byte-identical) and optionally
case.json with extra `patch` arguments and the notices expected on stderr.
Regenerate with CI_GOCACHE_REGEN=1 and review the diff before committing.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from support.buildkit import GO_BUILD, GO_DOWNLOAD, assert_front_end_accepts, runs, script_of
from support.cli import run_cli

from ci_gocache.targets import dockerfile

FIXTURES = Path(__file__).parent / "fixtures" / "docker"
CASES = sorted(path.name for path in FIXTURES.iterdir() if (path / "repo").is_dir())


def _case(name: str) -> dict:
    config = FIXTURES / name / "case.json"
    return json.loads(config.read_text()) if config.exists() else {}


def _dockerfiles(root: Path) -> dict[str, bytes]:
    found = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        if path.is_file() and ".git/" not in relative and dockerfile.claims(relative):
            found[relative] = path.read_bytes()
    return found


@pytest.fixture(params=CASES)
def patched_case(request, tmp_path):
    name = request.param
    repo = tmp_path / "repo"
    shutil.copytree(FIXTURES / name / "repo", repo)
    (repo / ".git").mkdir()
    before = _dockerfiles(repo)
    config = _case(name)
    first = run_cli("patch", *config.get("args", []), cwd=repo)
    assert first.returncode == 0, first.stderr
    after = _dockerfiles(repo)
    expected_dir = FIXTURES / name / "expected"
    if os.environ.get("CI_GOCACHE_REGEN"):
        shutil.rmtree(expected_dir, ignore_errors=True)
        for relative, content in after.items():
            if content != before[relative]:
                (expected_dir / relative).parent.mkdir(parents=True, exist_ok=True)
                (expected_dir / relative).write_bytes(content)
    return name, repo, before, after, first, config, tmp_path


def test_patch_matches_golden_files(patched_case):
    name, _, before, after, _, _, _ = patched_case
    assert after.keys() == before.keys()
    for relative, content in after.items():
        expected_file = FIXTURES / name / "expected" / relative
        expected = expected_file.read_bytes() if expected_file.exists() else before[relative]
        assert content == expected, f"{name}/{relative} differs from its golden file"


def test_expected_notices_are_printed(patched_case):
    _, _, _, _, first, config, _ = patched_case
    for notice in config.get("notices", []):
        assert notice in first.stderr


def test_second_run_changes_nothing(patched_case):
    _, repo, _, after, _, config, _ = patched_case
    check = run_cli("patch", "--check", *config.get("args", []), cwd=repo)
    assert check.returncode == 0, check.stdout + check.stderr
    again = run_cli("patch", *config.get("args", []), cwd=repo)
    assert again.returncode == 0
    assert _dockerfiles(repo) == after


def test_patched_dockerfiles_pass_buildkit_front_end(patched_case):
    name, repo, before, after, _, _, tmp_path = patched_case
    originals = tmp_path / "originals"
    for relative, content in after.items():
        if content == before[relative]:
            continue
        original = originals / relative
        original.parent.mkdir(parents=True, exist_ok=True)
        original.write_bytes(before[relative])
        report = assert_front_end_accepts(original, repo / relative)
        for run in runs(report):
            script = script_of(run)
            cache_targets = [mount["target"] for mount in run["mounts"] if mount["type"] == "cache"]
            if GO_BUILD.search(script):
                assert any(target.endswith("/pkg/mod") for target in cache_targets), (name, run)
                assert any("go-build" in target for target in cache_targets), (name, run)
            elif GO_DOWNLOAD.search(script):
                assert any(target.endswith("/pkg/mod") for target in cache_targets), (name, run)


def test_fixture_originals_are_valid_dockerfiles():
    """The front end accepts every original too, so the comparisons above start from valid files."""
    for name in CASES:
        for relative in _dockerfiles(FIXTURES / name / "repo"):
            path = FIXTURES / name / "repo" / relative
            assert_front_end_accepts(path, path)
