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


def _schema_errors(path: Path, text: str) -> list[str]:
    """check-jsonschema's gitlab-ci schema errors for a file, without their positions."""
    checked = path
    if text.startswith("spec:"):
        # A component: GitLab reads the document after the `spec:` header as the configuration.
        checked = path.with_name(path.name + ".component-body.yml")
        checked.write_text(text.split("\n---\n", 1)[1])
    result = subprocess.run(
        [tool("check-jsonschema"), "--builtin-schema", "vendor.gitlab-ci", "--data-transform", "gitlab-ci", str(checked)],
        capture_output=True, text=True,
    )
    if result.returncode == 0:
        return []
    return sorted(set(line.strip() for line in result.stdout.splitlines() if line.strip().startswith(("$", "-", str(checked)))))


def test_patched_files_pass_check_jsonschema(patched_case, tmp_path):
    """Every patched file passes the schema, or, where the original has shapes GitLab accepts and the
    schema does not (tests/fixtures/gitlab/gitlab-accepts), fails it with no error the original lacked."""
    for relative in patched_case.changed():
        before = tmp_path / "before" / relative
        before.parent.mkdir(parents=True, exist_ok=True)
        before.write_text(patched_case.before[relative].decode("utf-8-sig"))
        after = tmp_path / "after" / relative
        after.parent.mkdir(parents=True, exist_ok=True)
        after.write_text(patched_case.after[relative].decode("utf-8-sig"))
        original_errors = [line.replace(str(before), "") for line in _schema_errors(before, before.read_text())]
        new_errors = [line.replace(str(after), "") for line in _schema_errors(after, after.read_text())]
        assert set(new_errors) <= set(original_errors), f"{relative}: {new_errors}"
        if not original_errors:
            assert new_errors == [], relative


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
    listing = _list(repo)
    if listing.returncode != 0 and "Invalid .gitlab-ci.yml configuration" in listing.stderr:
        # gitlab-ci-local's schema is stricter than GitLab (`parallel: null`): the original must
        # fail it with the same findings, and the patched file must be read without that schema.
        patched_findings = _findings(listing.stderr)
        for relative, content in patched_case.before.items():
            (repo / relative).write_bytes(content)
        _git(repo, "commit", "-q", "-am", "original")
        assert _findings(_list(repo).stderr) == patched_findings, listing.stderr
        _git(repo, "revert", "--no-edit", "HEAD")
        listing = _list(repo, "--json-schema-validation=false")
        assert listing.returncode == 0, listing.stdout + listing.stderr
        return
    assert listing.returncode == 0, listing.stdout + listing.stderr
    assert "json schema validated" in listing.stderr, listing.stderr


def _list(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool("gitlab-ci-local"), "--list", *args], cwd=repo, capture_output=True, text=True, timeout=120,
        env={**os.environ, "FORCE_COLOR": "0"},
    )


def _findings(stderr: str) -> set[str]:
    return {line.strip() for line in stderr.splitlines() if line.strip().startswith("•") and " at " in line}
