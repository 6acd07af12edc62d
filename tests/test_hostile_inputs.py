"""Hostile contents: large files, control characters, huge patches. A clear `path:line:col`
message or a correct result, never a traceback, and the diff `--dry-run` prints applies."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from support.cli import run_cli
from support.golden import all_cases, case_config, project_copy
from support.large_workflows import HEADER, gitlab_jobs_pipeline, go_jobs_workflow, plain_env_workflow, repo_with


def test_large_plain_file_without_aliases_is_not_an_alias_bomb(tmp_path: Path) -> None:
    # 110,000 environment variables: over 220,000 YAML nodes, about 1.2 MB, and not one alias.
    workflow = plain_env_workflow(110_000)
    repo = repo_with(tmp_path, workflow)
    result = run_cli("patch", cwd=repo, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "alias bomb" not in result.stderr
    patched = (repo / ".github" / "workflows" / "ci.yml").read_text()
    assert patched.startswith(workflow[: workflow.index("jobs:")])
    assert "actions/cache/restore@" in patched


def test_patch_that_would_outgrow_the_size_limit_is_refused_before_writing(tmp_path: Path) -> None:
    # 3,000 Go jobs: the input is 0.8 MB, the patched file would be about 8 MB, which the next
    # run (and --check in CI) would refuse to read. Refused, with the reason, nothing written.
    workflow = go_jobs_workflow(3000)
    repo = repo_with(tmp_path, workflow)
    result = run_cli("patch", cwd=repo, timeout=600)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert re.search(r"ci\.yml:1:1: the patched file would be \d+ bytes, over the \d+-byte limit", result.stderr)
    assert (repo / ".github" / "workflows" / "ci.yml").read_text() == workflow


def test_a_gitlab_pipeline_of_many_alike_jobs_is_patched_whole_and_once(tmp_path: Path) -> None:
    # Each job's text ends where the next top-level key begins: found for 600 jobs at once.
    jobs = 600
    pipeline = gitlab_jobs_pipeline(jobs)
    repo = repo_with(tmp_path, "", pipeline)
    result = run_cli("patch", cwd=repo, timeout=600)
    assert result.returncode == 0, result.stderr
    patched = (repo / ".gitlab-ci.yml").read_text()
    assert patched.count("    - go test ./j") == jobs
    # Every job extends the one hidden job that holds the Go caches.
    assert patched.count("\n  extends: .ci-gocache-go\n") == jobs
    assert patched.count("\n.ci-gocache-go:\n") == 1
    again = run_cli("patch", "--check", cwd=repo, timeout=600)
    assert again.returncode == 0, again.stdout + again.stderr


@pytest.mark.parametrize(
    "line, character",
    [("      - run: echo \x01hi\n", "\x01"), ('    name: "a\x7fb"\n', "\x7f"), ("    runs-on: x\x1b[31m\n", "\x1b")],
    ids=["SOH-in-run", "DEL-in-quoted", "ESC-in-plain"],
)
def test_control_character_is_reported_at_its_line_and_column_on_one_line(tmp_path: Path, line: str, character: str) -> None:
    workflow = HEADER + "jobs:\n  test:\n    runs-on: ubuntu-latest\n    steps:\n      - run: go test ./...\n"
    lines = workflow.splitlines(keepends=True)
    lines.insert(5, line)
    text = "".join(lines)
    repo = repo_with(tmp_path, text)
    result = run_cli("patch", cwd=repo)
    assert result.returncode == 2
    stderr_lines = result.stderr.strip().splitlines()
    assert len(stderr_lines) == 1, result.stderr
    expected_col = line.index(character) + 1
    assert stderr_lines[0].startswith(f".github/workflows/ci.yml:6:{expected_col}: invalid YAML: character U+{ord(character):04X}")
    assert (repo / ".github" / "workflows" / "ci.yml").read_text() == text


@pytest.mark.parametrize("case", all_cases(), ids=lambda case: "/".join(case))
def test_dry_run_diff_applies_with_the_patch_tool(tmp_path: Path, case: tuple[str, str]) -> None:
    """The diff is built from the edits, not from difflib over whole files: GNU patch must turn
    the original into exactly what a real run writes."""
    dry = project_copy(*case, tmp_path / "dry")
    real = project_copy(*case, tmp_path / "real")
    args = list(case_config(*case).get("args", []))
    # Bytes, not text: CRLF files have CRLF diffs.
    diff = subprocess.run([sys.executable, "-m", "ci_gocache", "patch", "--dry-run", *args], cwd=dry, capture_output=True, timeout=120)
    written = run_cli("patch", *args, cwd=real)
    assert diff.returncode == written.returncode, diff.stderr
    if diff.stdout:
        applied = subprocess.run(
            ["patch", "-p1", "--binary", "--no-backup-if-mismatch", "-s"],
            input=diff.stdout, cwd=dry, capture_output=True, timeout=60,
        )
        assert applied.returncode == 0, applied.stdout + applied.stderr
    for path in sorted(real.rglob("*")):
        if path.is_file() and ".git" not in path.relative_to(real).parts:
            assert (dry / path.relative_to(real)).read_bytes() == path.read_bytes(), path
