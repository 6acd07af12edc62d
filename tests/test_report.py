"""`ci-gocache report --github`: the real HTTP client against a real http.server on 127.0.0.1.

FixtureServer replays recorded API responses from tests/fixtures/report/<case>/routes.json:
each route is a path (with `{name}` placeholders) and optional query conditions, answered by a
sequence of responses (the last one repeats). Bodies come from fixture files; run logs are
zipped from runs/<id>/ exactly as GitHub lays out its run-log archives and served from a second
server, standing in for the blob storage GitHub redirects log downloads to.
"""

from __future__ import annotations

import io
import json
import os
import pty
import re
import subprocess
import sys
import threading
import time
import urllib.parse
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

FIXTURES = Path(__file__).parent / "fixtures" / "report"
TOKEN = "ghp_fixtureToken0123456789"


class _Server:
    def __init__(self, handle: Any) -> None:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.requests.append({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}})
                status, headers, body = handle(self)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.requests: list[dict[str, Any]] = []
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class FixtureServer:
    """The API server for one fixture case, plus a blob server for redirected log downloads."""

    def __init__(self, case: str) -> None:
        self.case_dir = FIXTURES / case
        self.routes = json.loads((self.case_dir / "routes.json").read_text())["routes"]
        self.calls: dict[int, int] = {}
        self.lock = threading.Lock()
        self.blob = _Server(self._blob)
        self.api = _Server(self._api)
        self.url = self.api.url

    def close(self) -> None:
        self.api.close()
        self.blob.close()

    def __enter__(self) -> "FixtureServer":
        return self

    def __exit__(self, *args: object) -> None:
        self.close()

    def api_paths(self) -> list[str]:
        return [request["path"] for request in self.api.requests]

    def _match(self, path: str, query: dict[str, str]) -> tuple[int, dict[str, Any], dict[str, str]] | None:
        for index, route in enumerate(self.routes):
            pattern = "^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(route["path"])) + "$"
            found = re.match(pattern, path)
            if not found:
                continue
            conditions = route.get("query", {})
            if all((query.get(name) is None) if value is None else query.get(name) == value for name, value in conditions.items()):
                return index, route, found.groupdict()
        return None

    def _fill(self, text: str, captured: dict[str, str]) -> str:
        text = text.replace("{base}", self.api.url).replace("{blob}", self.blob.url)
        text = re.sub(r"\{now\+(\d+)\}", lambda match: str(int(time.time()) + int(match.group(1))), text)
        for name, value in captured.items():
            text = text.replace("{" + name + "}", value)
        return text

    def _api(self, request: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        parsed = urllib.parse.urlsplit(request.path)
        query = dict(urllib.parse.parse_qsl(parsed.query))
        matched = self._match(parsed.path, query)
        if matched is None:
            return 404, {"Content-Type": "application/json"}, b'{"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}'
        index, route, captured = matched
        with self.lock:
            call = self.calls.get(index, 0)
            self.calls[index] = call + 1
        response = route["responses"][min(call, len(route["responses"]) - 1)]
        headers = {name: self._fill(value, captured) for name, value in response.get("headers", {}).items()}
        if "json" in response:
            body = json.dumps(response["json"]).encode()
            headers.setdefault("Content-Type", "application/json; charset=utf-8")
        elif "body" in response:
            body = self._fill((self.case_dir / self._fill(response["body"], captured)).read_text(), captured).encode()
            if response["body"].endswith(".json"):
                headers.setdefault("Content-Type", "application/json; charset=utf-8")
            else:
                headers.setdefault("Content-Type", "text/plain; charset=utf-8")
        else:
            body = b""
        return int(response.get("status", 200)), headers, body

    def _blob(self, request: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        found = re.match(r"^/[^/]+/[^/]+/runs/(\d+)\.zip\?", request.path)
        run_dir = self.case_dir / "runs" / found.group(1) if found else None
        if run_dir is None or not run_dir.is_dir():
            return 404, {"Content-Type": "application/xml"}, b"<Error><Code>BlobNotFound</Code></Error>"
        return 200, {"Content-Type": "application/zip"}, zip_directory(run_dir)


def zip_directory(directory: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(directory.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(directory).as_posix())
    return buffer.getvalue()


def report_env(**extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items()
           if key not in ("GITHUB_TOKEN", "GH_TOKEN", "GITLAB_TOKEN", "CI_JOB_TOKEN")}
    env.update(extra)
    return env


def run_report(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ci_gocache", "report", *args], capture_output=True, text=True,
                          env=env if env is not None else report_env(GITHUB_TOKEN=TOKEN), timeout=120)


@pytest.fixture
def basic() -> Any:
    with FixtureServer("github-basic") as server:
        yield server


def basic_json(server: FixtureServer, *extra: str) -> dict[str, Any]:
    completed = run_report("--github", "acme/svc", "--api-url", server.url, "--last", "5", "--format", "json",
                           "--cache-limit-gb", "1.8", *extra)
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)


def by_group(report: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(cache["job"], cache["cache"]): cache for cache in report["caches"]}


# ---------------------------------------------------------------- reading the data


def test_follows_link_pagination_for_runs_and_caches(basic: FixtureServer) -> None:
    report = basic_json(basic)
    paths = basic.api_paths()
    assert any("/actions/runs?" in path and "page=2" in path for path in paths)
    assert any("/actions/caches?" in path and "page=2" in path for path in paths)
    assert report["runs"]["listed"] == 5 and report["storage"]["entries"] == 6


def test_records_from_the_action_give_exact_partial_and_miss_per_cache(basic: FixtureServer) -> None:
    groups = by_group(basic_json(basic))
    module = groups[("test", "mod")]
    build = groups[("test", "build")]
    # Runs 1001, 1002, 1004 and 1005 (1003's logs expired): a cold start, then module hits.
    assert (module["runs"], module["exact"], module["partial"], module["miss"]) == (4, 3, 0, 1)
    assert (build["runs"], build["exact"], build["partial"], build["miss"]) == (4, 0, 3, 1)
    assert module["exact_rate"] == 0.75 and build["partial_rate"] == 0.75
    assert module["sources"] == ["record"]


def test_nested_actions_cache_lines_of_the_action_are_not_counted_twice(basic: FixtureServer) -> None:
    groups = by_group(basic_json(basic))
    # The action's own actions/cache/restore step prints "Cache restored from key" with the record's key.
    assert not any(cache.startswith("gocache-v1") for _, cache in groups)


def test_plain_actions_cache_and_setup_go_log_lines_are_read(basic: FixtureServer) -> None:
    groups = by_group(basic_json(basic))
    lint = groups[("lint", "Linux-go")]
    assert (lint["runs"], lint["exact"], lint["partial"], lint["miss"]) == (3, 1, 1, 1)
    assert lint["sources"] == ["actions-cache"]
    setup = groups[("generate", "setup-go-Linux-ubuntu22-go-1.22.3")]
    assert (setup["exact"], setup["sources"]) == (1, ["setup-go"])
    assert setup["size_bytes"] == 419430400


def test_restore_seconds_median_and_p90_and_latest_size(basic: FixtureServer) -> None:
    groups = by_group(basic_json(basic))
    build = groups[("test", "build")]
    # Restore seconds 0.9, 6.2, 7.8, 5.0: median 5.6, nearest-rank p90 7.8.
    assert build["restore_seconds"] == {"median": 5.6, "p90": 7.8}
    assert build["size_bytes"] == 330301440  # the newest run's record
    # actions/cache: seconds from the step's start line to "Cache restored from key".
    assert groups[("lint", "Linux-go")]["restore_seconds"]["p90"] == pytest.approx(4.0, abs=0.01)


def test_expired_run_logs_are_counted_not_fatal(basic: FixtureServer) -> None:
    report = basic_json(basic)
    assert report["runs"] == {"listed": 5, "read": 5, "jobs_read": 8, "logs_missing": 1}
    assert report["partial"] is False


def test_zipped_logs_are_fetched_through_the_redirect_without_leaking_the_token(basic: FixtureServer) -> None:
    basic_json(basic)
    api_auth = {request["headers"].get("authorization") for request in basic.api.requests}
    assert api_auth == {f"Bearer {TOKEN}"}
    assert len(basic.blob.requests) == 4  # runs 1001, 1002, 1004, 1005
    assert all("authorization" not in request["headers"] for request in basic.blob.requests)


def test_gh_token_is_used_when_github_token_is_absent(basic: FixtureServer) -> None:
    completed = run_report("--github", "acme/svc", "--api-url", basic.url, "--last", "5", "--format", "json",
                           env=report_env(GH_TOKEN="gh-cli-token"))
    assert completed.returncode == 0, completed.stderr
    assert basic.api.requests[0]["headers"]["authorization"] == "Bearer gh-cli-token"


def test_workflow_file_name_selects_that_workflows_runs(basic: FixtureServer) -> None:
    report = basic_json(basic, "--workflow", "ci.yml")
    paths = basic.api_paths()
    assert any(path.startswith("/repos/acme/svc/actions/workflows/ci.yml/runs?") for path in paths)
    assert not any(path.startswith("/repos/acme/svc/actions/runs?") for path in paths)
    assert report["runs"]["listed"] == 2


def test_workflow_display_name_is_looked_up(basic: FixtureServer) -> None:
    basic_json(basic, "--workflow", "CI")
    paths = basic.api_paths()
    assert any(path.startswith("/repos/acme/svc/actions/workflows?") for path in paths)
    assert any(path.startswith("/repos/acme/svc/actions/workflows/9876543/runs?") for path in paths)


def test_unknown_workflow_name_is_exit_2(basic: FixtureServer) -> None:
    completed = run_report("--github", "acme/svc", "--api-url", basic.url, "--workflow", "Nightly")
    assert completed.returncode == 2
    assert completed.stderr.startswith("error: GitHub: no workflow named 'Nightly' in acme/svc")


# ---------------------------------------------------------------- storage warnings


def test_caches_api_warnings_near_limit_pull_request_crowding_and_duplicates(basic: FixtureServer) -> None:
    report = basic_json(basic)
    kinds = [warning["kind"] for warning in report["warnings"]]
    assert kinds == ["size-limit", "pull-request-crowding", "duplicates"]
    storage = report["storage"]
    megabyte = 1024 * 1024
    assert storage["total_bytes"] == 1588 * megabyte
    assert storage["pull_request_bytes"] == 800 * megabyte and storage["default_branch_bytes"] == 788 * megabyte
    # One Linux-go key saved on two PR refs, and one older build-cache save on main.
    assert (storage["duplicate_entries"], storage["duplicate_bytes"]) == (2, 500 * megabyte)


def test_no_size_warning_under_the_limit(basic: FixtureServer) -> None:
    report = basic_json(basic, "--cache-limit-gb", "10")
    assert "size-limit" not in [warning["kind"] for warning in report["warnings"]]


# ---------------------------------------------------------------- output formats


def test_table_lists_each_workflow_job_and_cache(basic: FixtureServer) -> None:
    completed = run_report("--github", "acme/svc", "--api-url", basic.url, "--last", "5", "--cache-limit-gb", "1.8")
    assert completed.returncode == 0, completed.stderr
    lines = completed.stdout.splitlines()
    assert lines[0] == "Go cache report for acme/svc (5 of 5 runs read)"
    header = lines[2].split()
    assert header[:7] == ["workflow", "job", "cache", "runs", "exact", "partial", "miss"]
    row = next(line for line in lines if line.startswith("CI") and " build " in line)
    assert row.split()[3:7] == ["4", "0%", "75%", "25%"]
    assert sum(line.startswith("warning: ") for line in lines) == 3
    assert "1 run log was missing (expired or erased)." in lines
    assert completed.stderr == "", "no progress bar when stderr is not a terminal"


def test_markdown_is_a_table_for_job_summaries(basic: FixtureServer) -> None:
    completed = run_report("--github", "acme/svc", "--api-url", basic.url, "--last", "5", "--format", "markdown")
    assert completed.returncode == 0, completed.stderr
    lines = completed.stdout.splitlines()
    assert lines[0] == "### Go cache report for acme/svc (5 of 5 runs read)"
    assert "| workflow | job | cache | runs | exact | partial | miss | restore p50 | restore p90 | size |" in lines
    assert "| CI | test | mod | 4 | 75% | 0% | 25% | 2.8s | 3.4s | 173.0 MiB |" in lines
    assert any(line.startswith("- Pull-request caches hold") for line in lines)


def test_html_is_self_contained_with_svg_charts(basic: FixtureServer, tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    completed = run_report("--github", "acme/svc", "--api-url", basic.url, "--last", "5", "--html", str(page))
    assert completed.returncode == 0, completed.stderr
    text = page.read_text()
    assert text.count("<svg") == 2
    assert 'aria-label="Hit rate over time"' in text and 'aria-label="Restore time"' in text
    assert text.count('class="exact"') == 3  # days 2, 4 and 5: day 1 was a cold start and text.count('<polyline class="restore"') >= 3
    # Nothing loaded from elsewhere: no scripts, stylesheets, images or fonts by URL.
    assert not re.search(r"<script|<link|<img|@import|url\(", text)
    assert not re.search(r"(?:src|href)=\"https?:", text)


def test_progress_bar_is_drawn_on_a_terminal(basic: FixtureServer) -> None:
    controller, terminal = pty.openpty()
    try:
        completed = subprocess.run(
            [sys.executable, "-m", "ci_gocache", "report", "--github", "acme/svc", "--api-url", basic.url, "--last", "5",
             "--format", "json"],
            stdout=subprocess.PIPE, stderr=terminal, env=report_env(GITHUB_TOKEN=TOKEN), timeout=120,
        )
        os.close(terminal)
        terminal = -1
        drawn = b""
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:
                break
            if not chunk:
                break
            drawn += chunk
    finally:
        if terminal >= 0:
            os.close(terminal)
        os.close(controller)
    assert completed.returncode == 0
    assert b"] 0/5 run 1005" in drawn and b"[" + b"#" * 30 + b"] 5/5 caches" in drawn
    json.loads(completed.stdout)  # stdout stays clean JSON


# ---------------------------------------------------------------- rate limits


def test_rate_limit_with_retry_after_is_waited_out(tmp_path: Path) -> None:
    with FixtureServer("github-rate-limit") as server:
        started = time.monotonic()
        completed = run_report("--github", "acme/svc", "--api-url", server.url, "--last", "2", "--format", "json",
                               "--max-wait", "5")
        elapsed = time.monotonic() - started
        assert completed.returncode == 0, completed.stderr
        report = json.loads(completed.stdout)
        assert report["partial"] is False and report["runs"]["read"] == 2
        runs_requests = [path for path in server.api_paths() if path.startswith("/repos/acme/svc/actions/runs?")]
        assert len(runs_requests) == 2, "the rate-limited request is retried once"
        assert elapsed >= 1.0, "Retry-After: 1 is honoured"


def test_rate_limit_beyond_the_bound_stops_with_partial_data(tmp_path: Path) -> None:
    with FixtureServer("github-rate-limit") as server:
        completed = run_report("--github", "acme/svc", "--api-url", server.url, "--last", "2", "--format", "json",
                               "--max-wait", "0")
    assert completed.returncode == 3
    report = json.loads(completed.stdout)
    assert report["partial"] is True and "rate limit asks to wait" in report["partial_reason"]
    assert report["caches"] == [] and report["runs"]["read"] == 0
    assert completed.stderr.startswith("warning: partial report: GitHub's rate limit asks to wait 1s")
    assert "Traceback" not in completed.stderr


def test_primary_rate_limit_reset_far_away_keeps_what_was_read(tmp_path: Path) -> None:
    with FixtureServer("github-rate-limit-reset") as server:
        completed = run_report("--github", "acme/svc", "--api-url", server.url, "--last", "2", "--format", "json",
                               "--max-wait", "3")
        table = run_report("--github", "acme/svc", "--api-url", server.url, "--last", "2", "--max-wait", "0")
    assert completed.returncode == 3
    report = json.loads(completed.stdout)
    # Both runs were read; the caches API then answered 403 with X-RateLimit-Remaining: 0 for an hour.
    assert report["partial"] is True and report["runs"]["read"] == 2
    assert {cache["cache"] for cache in report["caches"]} == {"mod", "build"}
    assert report["storage"] is None
    assert "while listing caches" in report["partial_reason"]
    assert table.returncode == 3 and "PARTIAL: " in table.stdout


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("repo", "expected"),
    [
        ("acme/unauthorized", "GitHub API GET /repos/acme/unauthorized: 401 Unauthorized (Bad credentials): the token was rejected; set GITHUB_TOKEN or GH_TOKEN"),
        ("acme/forbidden", "GitHub API GET /repos/acme/forbidden: 403 Forbidden (Resource not accessible by personal access token): the token may not read Actions data; it needs the actions:read permission"),
        ("acme/missing", "GitHub API GET /repos/acme/missing: 404 Not Found (Not Found): the repository does not exist or the token cannot see it"),
    ],
)
def test_401_403_404_are_clear_errors_with_exit_2(repo: str, expected: str) -> None:
    with FixtureServer("github-errors") as server:
        completed = run_report("--github", repo, "--api-url", server.url, "--format", "json")
    assert completed.returncode == 2
    assert completed.stdout == ""
    assert completed.stderr.startswith("error: " + expected), completed.stderr
    assert "Traceback" not in completed.stderr


def test_forbidden_logs_mid_run_are_an_error_too() -> None:
    with FixtureServer("github-errors") as server:
        completed = run_report("--github", "acme/logs-forbidden", "--api-url", server.url, "--last", "1")
    assert completed.returncode == 2
    assert completed.stderr.startswith("error: GitHub API GET /repos/acme/logs-forbidden/actions/runs/2001/logs: 403 Forbidden")


def test_unreachable_api_is_exit_2_without_traceback() -> None:
    completed = run_report("--github", "acme/svc", "--api-url", "http://127.0.0.1:1")
    assert completed.returncode == 2
    assert completed.stderr.startswith("error: cannot reach GitHub at http://127.0.0.1:1/repos/acme/svc")
    assert "Traceback" not in completed.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--github", "not-a-repo"], "'not-a-repo' is not OWNER/REPO"),
        (["--github", "a/b", "--since", "yesterday"], "'yesterday' is not a date"),
        ([], "give exactly one of --github OWNER/REPO or --gitlab PROJECT"),
    ],
)
def test_bad_arguments_are_usage_errors(args: list[str], message: str) -> None:
    completed = run_report(*args)
    assert completed.returncode == 2 and message in completed.stderr and "Traceback" not in completed.stderr
