"""`ci-gocache diagnose` on hand-written logs of CI services: actions/cache, setup-go, GitLab, docker build.

Each tests/fixtures/diagnose/<case>/ holds log.txt and expected.json: the root cause and every
finding as [rule, line], plus optional "docker" and "fix_contains" checks. The logs follow the
message formats those tools print (GitHub timestamps and ##[warning] annotations, GitLab's ANSI
colours and section markers, the legacy docker builder's Step lines); the go, git, tar and rm
error text in test_diagnose.py comes from running the real commands.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from support.cli import run_cli

FIXTURES = Path(__file__).parent / "fixtures" / "diagnose"
CASES = sorted(path.name for path in FIXTURES.iterdir() if (path / "log.txt").is_file())


@pytest.mark.parametrize("case", CASES)
def test_fixture_log_findings_and_root_cause(case: str) -> None:
    expected = json.loads((FIXTURES / case / "expected.json").read_text())
    completed = run_cli("diagnose", str(FIXTURES / case / "log.txt"), "--format", "json")
    assert completed.returncode == 0, completed.stderr
    result = json.loads(completed.stdout)
    assert [[finding["rule"], finding["line"]] for finding in result["findings"]] == expected["findings"]
    assert [result["root_cause"]["rule"], result["root_cause"]["line"]] == expected["root_cause"]
    assert result["docker"] is expected.get("docker", False)
    for text in expected.get("fix_contains", []):
        assert text in result["root_cause"]["fix"]
    for finding in result["findings"]:
        assert finding["cause"] and finding["fix"] and "{" not in finding["cause"]


def test_fixture_text_output_quotes_the_original_line() -> None:
    log = FIXTURES / "gitlab-extract-failed" / "log.txt"
    completed = run_cli("diagnose", str(log))
    assert completed.returncode == 0
    assert f"{log}:12: error [cache/gitlab-cache-extract-failed] (root cause)" in completed.stdout
    assert "FATAL: unexpected EOF" in completed.stdout


def test_every_fixture_case_is_checked() -> None:
    assert len(CASES) >= 8
    assert all((FIXTURES / case / "expected.json").is_file() for case in CASES)
