"""Golden before/after fixtures for the GitLab CI patcher, checked with the real tools.

Each tests/fixtures/gitlab/<case>/ holds repo/ (a project before patching), expected/ (the YAML
files after `ci-gocache patch` with no paths, by their path in the project; a file missing there
must stay byte-identical) and optionally case.json with extra `patch` arguments and the notices
expected on stderr. Every patched file must pass check-jsonschema's gitlab-ci schema (for a
component, the document after its `spec:` header) and be read by gitlab-ci-local.
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
from support.tools import tool

FIXTURES = Path(__file__).parent / "fixtures" / "gitlab"
CASES = sorted(path.name for path in FIXTURES.iterdir() if (path / "repo").is_dir())


def _case(name: str) -> dict:
    config = FIXTURES / name / "case.json"
    return json.loads(config.read_text()) if config.exists() else {}


def _yaml_files(root: Path) -> dict[str, bytes]:
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and path.suffix in (".yml", ".yaml") and ".git" not in path.relative_to(root).parts
    }


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=ci-gocache tests", "-c", "user.email=tests@ci-gocache.invalid", *args],
        cwd=repo, check=True, capture_output=True,
    )


def _project(tmp_path: Path, name: str) -> Path:
    repo = tmp_path / "repo"
    shutil.copytree(FIXTURES / name / "repo", repo)
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "remote", "add", "origin", "https://gitlab.example.com/ci-gocache/fixture.git")
    return repo


@pytest.fixture(params=CASES)
def patched_case(request, tmp_path):
    name = request.param
    repo = _project(tmp_path, name)
    before = _yaml_files(repo)
    config = _case(name)
    first = run_cli("patch", *config.get("args", []), cwd=repo)
    assert first.returncode == 0, first.stderr
    after = _yaml_files(repo)
    expected_dir = FIXTURES / name / "expected"
    if os.environ.get("CI_GOCACHE_REGEN"):
        shutil.rmtree(expected_dir, ignore_errors=True)
        for relative, content in after.items():
            if content != before[relative]:
                (expected_dir / relative).parent.mkdir(parents=True, exist_ok=True)
                (expected_dir / relative).write_bytes(content)
    return name, repo, before, after, first, config


def test_patch_matches_golden_files(patched_case):
    name, _, before, after, _, _ = patched_case
    expected_dir = FIXTURES / name / "expected"
    assert set(after) == set(before)
    for relative, content in after.items():
        expected_file = expected_dir / relative
        expected = expected_file.read_bytes() if expected_file.exists() else before[relative]
        assert content == expected, f"{name}/{relative} differs from its golden file"


CASES_WITH_NOTICES = [name for name in CASES if _case(name).get("notices")]


@pytest.mark.parametrize("name", CASES_WITH_NOTICES)
def test_expected_notices_are_printed(name, tmp_path):
    repo = _project(tmp_path, name)
    config = _case(name)
    result = run_cli("patch", *config.get("args", []), cwd=repo)
    assert result.returncode == 0, result.stderr
    for notice in config["notices"]:
        assert notice in result.stderr


def test_second_run_changes_nothing(patched_case):
    _, repo, _, after, _, config = patched_case
    second = run_cli("patch", "--check", *config.get("args", []), cwd=repo)
    assert second.returncode == 0, second.stdout + second.stderr
    assert _yaml_files(repo) == after


def test_patched_files_pass_check_jsonschema(patched_case, tmp_path):
    _, repo, before, after, _, _ = patched_case
    for relative, content in after.items():
        if content == before[relative]:
            continue
        text = content.decode("utf-8-sig")
        checked = repo / relative
        if text.startswith("spec:"):
            # A component: GitLab reads the document after the `spec:` header as the configuration.
            checked = tmp_path / "component-body.yml"
            checked.write_text(text.split("\n---\n", 1)[1])
        result = subprocess.run(
            [tool("check-jsonschema"), "--builtin-schema", "vendor.gitlab-ci", "--data-transform", "gitlab-ci", str(checked)],
            capture_output=True, text=True,
        )
        assert result.returncode == 0, f"{relative}: {result.stdout}{result.stderr}"


def test_gitlab_ci_local_reads_the_patched_pipeline(patched_case):
    _, repo, _, _, _, _ = patched_case
    pipeline = repo / ".gitlab-ci.yml"
    if not pipeline.exists():
        # A component project: include each component at this commit, as GitLab documents for testing.
        names = [path.stem if path.parent.name == "templates" else path.parent.name for path in (repo / "templates").rglob("*.yml")]
        pipeline.write_text(
            "include:\n"
            + "".join(f"  - component: $CI_SERVER_FQDN/$CI_PROJECT_PATH/{name}@$CI_COMMIT_SHA\n" for name in names)
        )
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "patched")
    listing = subprocess.run(
        [tool("gitlab-ci-local"), "--list"], cwd=repo, capture_output=True, text=True, timeout=120,
        env={**os.environ, "FORCE_COLOR": "0"},
    )
    assert listing.returncode == 0, listing.stdout + listing.stderr
    assert "json schema validated" in listing.stderr, listing.stderr
