"""delete-superseded (issue 10 point 12): after a successful build-cache save, the action deletes
the entry it restored from, through the REST API, served here by a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest

from ci_gocache.action import report_phase
from support.cachestore import CacheStore
from support.composite import main_action, save_action
from support.actionrunner import Runner, remove_tree


class CacheApi(BaseHTTPRequestHandler):
    requests: list[dict] = []
    status = 200

    def do_DELETE(self) -> None:  # noqa: N802 (http.server's name)
        url = urlparse(self.path)
        CacheApi.requests.append({"path": url.path, "query": parse_qs(url.query), "auth": self.headers.get("Authorization")})
        self.send_response(CacheApi.status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"total_count": 1}')

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def api():
    CacheApi.requests, CacheApi.status = [], 200
    server = ThreadingHTTPServer(("127.0.0.1", 0), CacheApi)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def _push(runner: Runner, api_url: str, save_inputs: dict[str, str]):
    job = runner.fresh_job()
    job.env.update({"GITHUB_API_URL": api_url, "GITHUB_REPOSITORY": "octo/app"})
    restored = job.use_action(main_action())
    built = job.run_shell("go build ./...")
    assert built.outcome == "success", built.stderr[-2000:]
    return restored, job.use_action(save_action(), save_inputs)


@pytest.fixture(scope="module")
def first_push(tmp_path_factory):
    """One push to main on an empty cache: it saves the build entry the next push restores."""
    base = tmp_path_factory.mktemp("first")
    runner = Runner(base / "runner", CacheStore(base / "store"))
    restored, saved = _push(runner, "http://127.0.0.1:9", {"delete-superseded": "true", "token": "t"})
    assert saved.outputs["build-saved"] == "true" and saved.outputs["deleted-key"] == ""
    yield restored.outputs["build-key"], base
    remove_tree(base / "runner")


def _two_pushes(first_push, tmp_path, api_url: str, inputs: dict[str, str]):
    superseded, base = first_push
    runner = Runner(base / "runner", CacheStore(base / "store").copy_to(tmp_path / "store"), first_run=100)
    restored, saved = _push(runner, api_url, inputs)
    return superseded, restored, saved


def test_the_restored_build_entry_is_deleted_after_the_save(first_push, tmp_path, api):
    superseded, restored, saved = _two_pushes(first_push, tmp_path, api, {"delete-superseded": "true", "token": "secret-token"})
    assert restored.outputs["build-hit"] == "partial"
    assert restored.outputs["build-matched-key"] == superseded
    assert saved.outputs["build-saved"] == "true"
    assert CacheApi.requests == [
        {"path": "/repos/octo/app/actions/caches", "query": {"key": [superseded], "ref": ["refs/heads/main"]}, "auth": "Bearer secret-token"}
    ]
    assert saved.outputs["deleted-key"] == superseded


def test_nothing_is_deleted_unless_asked(first_push, tmp_path, api):
    _, _, saved = _two_pushes(first_push, tmp_path, api, {})
    assert saved.outputs["build-saved"] == "true"
    assert CacheApi.requests == [] and saved.outputs["deleted-key"] == ""


def test_a_forbidden_delete_warns_and_the_job_goes_on(first_push, tmp_path, api):
    CacheApi.status = 403
    _, _, saved = _two_pushes(first_push, tmp_path, api, {"delete-superseded": "true", "token": "read-only"})
    assert all(step.outcome != "failure" for step in saved.steps)
    assert "actions: write" in saved.log and saved.outputs["deleted-key"] == ""


@pytest.mark.parametrize(
    "matched, expected",
    [
        ("p-Linux-X64-gobuild-go1.26.8-test.-d-1-1", "p-Linux-X64-gobuild-go1.26.8-test.-d-1-1"),
        ("p-Linux-X64-gobuild-go1.26.8-test.-d-2-1", ""),  # the key just saved
        ("p-Linux-X64-gobuild-go1.26.8-test-race.-d-1-1", ""),  # another job
        ("", ""),  # a miss
    ],
)
def test_only_an_earlier_entry_of_the_same_job_and_leg_is_superseded(matched, expected):
    state = {"build": {"saved": True, "key": "p-Linux-X64-gobuild-go1.26.8-test.-d-2-1", "matched_key": matched,
                       "restore_keys": ["p-Linux-X64-gobuild-go1.26.8-test.-d-", "p-Linux-X64-gobuild-go1.26.8-test.-"]}}
    assert report_phase.superseded_build_key(state) == expected
