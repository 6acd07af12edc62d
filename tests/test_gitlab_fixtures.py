"""GitLab golden fixtures (tests/fixtures/gitlab/, walked by test_golden.py), checked with the real
tools: every patched file passes check-jsonschema's gitlab-ci schema (for a component, the document
after its `spec:` header) and is read by gitlab-ci-local."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from support.golden import cases, patch_case
from support.tools import tool

CASES = cases("gitlab")


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=ci-gocache tests", "-c", "user.email=tests@ci-gocache.invalid", *args],
        cwd=repo, check=True, capture_output=True,
    )


@pytest.fixture(params=CASES)
def patched_case(request, tmp_path):
    return patch_case("gitlab", request.param, tmp_path)


def test_patched_files_pass_check_jsonschema(patched_case, tmp_path):
    repo = patched_case.repo
    for relative in patched_case.changed():
        text = patched_case.after[relative].decode("utf-8-sig")
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
    repo = patched_case.repo
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
