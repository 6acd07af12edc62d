"""`ci-gocache diagnose` on real-shaped logs: one table, tests/fixtures/diagnose/cases.json.

Each row names a directory under tests/fixtures/diagnose/ holding log.txt, and what diagnose must
say about it: the root cause as [rule, line], and optionally every finding as [rule, line], the
details read from the root line (host, module, version), findings explained by the root cause
([rule, line, root line]), text the cause or fix must or must not hold, and whether the log is a
docker build. The logs are GitHub raw logs with timestamps and annotations, GitLab traces with
ANSI colours, section markers and GitLab's timestamped format, and BuildKit plain progress, around
the error text go, git, tar, actions/cache, setup-go and the GitLab runner print
(tests/fixtures/diagnose/generate.py writes them; the go, git, tar and rm text that
test_diagnose.py produces by running the real commands has the same shape).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from support.cli import run_cli

from ci_gocache.diagnosis import diagnose_stream

FIXTURES = Path(__file__).parent / "fixtures" / "diagnose"
TABLE = json.loads((FIXTURES / "cases.json").read_text())


@pytest.mark.parametrize("case", sorted(TABLE))
def test_fixture_log_cause_and_line(case: str) -> None:
    expected = TABLE[case]
    # In process, as the command reads a file (a stream of bytes); the command itself is run below.
    with open(FIXTURES / case / "log.txt", "rb") as handle:
        result = diagnose_stream(handle)
    root = result["root_cause"]
    assert [root["rule"], root["line"]] == expected["root_cause"]
    if "findings" in expected:
        assert [[finding["rule"], finding["line"]] for finding in result["findings"]] == expected["findings"]
    if "only" in expected:
        assert [finding["rule"] for finding in result["findings"]] == expected["only"]
    for name, value in expected.get("details", {}).items():
        assert root["details"].get(name) == value, name
    for rule, line, cause_line in expected.get("caused_by", []):
        explained = next(finding for finding in result["findings"] if finding["rule"] == rule and finding["line"] == line)
        assert explained["caused_by"] == cause_line
        for text in expected.get("caused_cause_contains", []):
            assert text in explained["cause"]
    assert result["docker"] is expected.get("docker", False)
    for text in expected.get("fix_contains", []):
        assert text in root["fix"]
    for text in expected.get("fix_excludes", []):
        assert text not in root["fix"]
    for text in expected.get("cause_contains", []):
        assert text in root["cause"]
    for text in expected.get("cause_excludes", []):
        assert text not in root["cause"]
    for finding in result["findings"]:
        assert finding["cause"] and finding["fix"] and "{" not in finding["cause"]


def test_fixture_text_output_quotes_the_original_line() -> None:
    log = FIXTURES / "gitlab-extract-failed" / "log.txt"
    completed = run_cli("diagnose", str(log))
    assert completed.returncode == 0
    assert f"{log}:12: error [cache/gitlab-cache-extract-failed] (root cause)" in completed.stdout
    assert "FATAL: unexpected EOF" in completed.stdout


def test_text_output_says_which_line_a_consequence_follows() -> None:
    log = FIXTURES / "github-reserve-after-disk-full" / "log.txt"
    completed = run_cli("diagnose", str(log))
    root_line = TABLE["github-reserve-after-disk-full"]["root_cause"][1]
    assert f"[cache/actions-cache-reserve] (follows line {root_line})" in completed.stdout
    assert completed.stdout.rstrip().endswith(f"root cause at line {root_line}: disk-full")


def test_the_table_covers_every_log_and_every_ci_shape() -> None:
    logs = sorted(path.parent.name for path in FIXTURES.glob("*/log.txt"))
    assert logs == sorted(TABLE)
    assert len(TABLE) >= 40
    for prefix in ("github-", "gitlab-", "buildkit-"):
        assert sum(name.startswith(prefix) for name in TABLE) >= 8, prefix


# ---------------------------------------------------------------- long lines (issue 12: diagnose is linear)

# Words built from what the old patterns repeated inside each other: a 1.8 KB line took 38 s, a 5 KB one
# over 200 s. Each ends in the phrase that sends the line to the rules.
PATHOLOGICAL = [
    ("a/pkg/mod/" * 180)[:1800] + " permission denied",
    ("@v1" * 1700)[:5000] + ": permission denied",
    "go: " + ("x@v1:" * 1000)[:5000] + " reading https://proxy.golang.org/@v/list: 404 Not Found",
    "verifying " + ("a.b/" * 1250)[:5000] + ": checksum mismatch",
    ("Failed to save " * 400)[:5000] + "Cache service",
]


def test_long_pathological_lines_finish_and_a_real_error_after_them_is_found(tmp_path: Path) -> None:
    real = "go: github.com/acme/x@v1.2.3: verifying module: checksum mismatch"
    log = tmp_path / "long.log"
    log.write_text("\n".join([*PATHOLOGICAL, real, "\tdownloaded: h1:A=", "\tsum.golang.org: h1:B="]) + "\n")
    # A hang fails the test (run_cli's timeout) instead of blocking the suite.
    completed = run_cli("diagnose", str(log), "--format", "json", timeout=120)
    assert completed.returncode == 0, completed.stderr
    result = json.loads(completed.stdout)
    assert result["root_cause"]["rule"] == "sumdb-mismatch" and result["root_cause"]["line"] == len(PATHOLOGICAL) + 1
    assert result["root_cause"]["details"]["module"] == "github.com/acme/x"
    assert all(finding["line"] > len(PATHOLOGICAL) or finding["rule"] != "modcache-read-only"
               for finding in result["findings"]), "a word of /pkg/mod/ pieces is not a module cache path"


def test_a_real_error_in_a_long_line_is_still_named_from_that_line(tmp_path: Path) -> None:
    url = "https://goproxy.corp.example.net/" + "very/long/path/" * 110 + "@v/v1.0.0.zip"
    line = f'go: github.com/a/b@v1.0.0: Get "{url}": dial tcp 10.0.0.9:443: i/o timeout'
    assert 1700 < len(line) < 4096
    with open(tmp_path / "one.log", "w") as handle:
        handle.write(line + "\n")
    with open(tmp_path / "one.log", "rb") as handle:
        root = diagnose_stream(handle)["root_cause"]
    assert root["rule"] == "network-timeout" and root["details"]["host"] == "goproxy.corp.example.net"


def test_a_line_longer_than_the_read_limit_is_cut_not_held_whole(tmp_path: Path) -> None:
    log = tmp_path / "huge-line.log"
    with open(log, "w") as handle:
        handle.write("dial tcp: lookup proxy.golang.org on 127.0.0.53:53: server misbehaving " + "x" * 3_000_000 + "\n")
        handle.write("second line: no space left on device\n")
    with open(log, "rb") as handle:
        result = diagnose_stream(handle)
    assert result["lines"] == 2
    assert [[finding["rule"], finding["line"]] for finding in result["findings"]] == [["dns-failure", 1], ["disk-full", 2]]
