"""Build-cache trimming (ci_gocache.action.trim) against the real go command's cache behaviour."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from ci_gocache.action import trim

FIXTURE = Path(__file__).parent / "fixtures" / "trim" / "module"
COMPILED_PACKAGE = re.compile(r"/compile\s.*?\s-p\s+(\S+)")


def _go(workspace: Path, cache: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GOCACHE": str(cache), "GOFLAGS": "-buildvcs=false", "GOTOOLCHAIN": "local", "GOPROXY": "off"}
    completed = subprocess.run(["go", *args], cwd=workspace, env=env, capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr
    return completed


def _compiled(output: str) -> set[str]:
    return set(COMPILED_PACKAGE.findall(output))


@pytest.fixture(scope="module")
def built_cache(tmp_path_factory) -> tuple[Path, Path]:
    """A cache a cold build filled, kept as a template (the build takes a while: it compiles runtime)."""
    base = tmp_path_factory.mktemp("trim")
    workspace = base / "workspace"
    shutil.copytree(FIXTURE, workspace)
    _go(workspace, base / "cache", "build", "./...")
    return workspace, base / "cache"


@pytest.fixture
def restored(built_cache, tmp_path) -> tuple[Path, Path]:
    """A fresh copy of the cache, as after a restore, and the workspace back as it was.

    The workspace keeps its path: Go's cache keys include the source directory, and a CI
    checkout always lands in the same place.
    """
    workspace, cache = built_cache
    shutil.rmtree(workspace)
    shutil.copytree(FIXTURE, workspace)
    shutil.copytree(cache, tmp_path / "cache")
    return workspace, tmp_path / "cache"


def test_backdate_sets_every_entry_two_hours_back(restored):
    _, cache = restored
    now = time.time()
    stamp, count = trim.backdate(str(cache), now)
    entries = trim.iter_entries(str(cache))
    assert count == len(entries) > 100
    assert stamp == now - 2 * 3600
    assert all(abs(entry.mtime - stamp) < 1 for entry in entries)


def test_go_refreshes_what_it_uses_after_backdating(restored):
    workspace, cache = restored
    stamp, _ = trim.backdate(str(cache))
    build = _go(workspace, cache, "build", "-x", "./...")
    assert _compiled(build.stderr) == set()
    fresh = [entry for entry in trim.iter_entries(str(cache)) if entry.mtime > stamp + trim.STAMP_SLACK_SECONDS]
    assert len(fresh) > 50


def test_go_own_trim_keeps_backdated_entries(restored):
    """Go trims only entries unused for 5 days; back-dating by 2 hours never triggers it."""
    workspace, cache = restored
    trim.backdate(str(cache))
    before = len(trim.iter_entries(str(cache)))
    (cache / "trim.txt").unlink(missing_ok=True)  # so the go command trims at its exit
    _go(workspace, cache, "build", "./...")
    assert (cache / "trim.txt").exists()
    assert len(trim.iter_entries(str(cache))) == before


def test_trim_drops_unused_entries_and_the_next_build_is_fully_cached(restored):
    workspace, cache = restored
    stamp, restored_count = trim.backdate(str(cache))
    shutil.rmtree(workspace / "b")
    (workspace / "main.go").write_text('package main\n\nimport "example.com/trim/a"\n\nfunc main() { println(a.Name()) }\n')
    assert _compiled(_go(workspace, cache, "build", "-x", "./...").stderr) == {"main"}

    result = trim.trim_unused(str(cache), stamp)
    assert result.dropped_entries > 0 and result.dropped_bytes > 0
    assert result.kept_entries == len(trim.iter_entries(str(cache)))
    assert result.kept_entries + result.dropped_entries >= restored_count

    # Everything this build used is still there.
    assert _compiled(_go(workspace, cache, "build", "-x", "./...").stderr) == set()
    # And package b, no longer used, was really dropped: bringing it back compiles it again.
    shutil.copytree(FIXTURE / "b", workspace / "b")
    (workspace / "main.go").write_text((FIXTURE / "main.go").read_text())
    assert _compiled(_go(workspace, cache, "build", "-x", "./...").stderr) == {"main", "example.com/trim/b"}


def test_mark_trimmed_writes_the_time_as_go_does(tmp_path):
    trim.mark_trimmed(str(tmp_path), 1_700_000_000.7)
    assert (tmp_path / "trim.txt").read_text() == "1700000000"


def test_directory_entries_are_trimmed_whole(tmp_path):
    """Go 1.24+ caches executables as `<hash>-d` directories."""
    subdirectory = tmp_path / "0a"
    executable = subdirectory / ("0a" * 32 + "-d")
    (executable / "bin").mkdir(parents=True)
    (executable / "bin" / "tool").write_bytes(b"x" * 1000)
    used = subdirectory / ("0b" * 32 + "-a")
    used.write_bytes(b"y" * 10)
    (tmp_path / "README").write_text("not an entry")
    stamp, count = trim.backdate(str(tmp_path))
    assert count == 2
    os.utime(used)  # what Go's markUsed does for an entry it reads
    result = trim.trim_unused(str(tmp_path), stamp)
    assert (result.dropped_entries, result.dropped_bytes, result.kept_entries) == (1, 1000, 1)
    assert not executable.exists() and used.exists() and (tmp_path / "README").exists()
