"""Dockerfile golden fixtures (tests/fixtures/docker/, walked by test_golden.py), checked with
BuildKit's own Dockerfile front end.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from support.buildkit import GO_BUILD, GO_DOWNLOAD, assert_front_end_accepts, runs, script_of
from support.golden import cases, patch_case

from ci_gocache.targets import dockerfile

FIXTURES = Path(__file__).parent / "fixtures" / "docker"
CASES = cases("docker")


def _dockerfiles(root: Path) -> dict[str, bytes]:
    found = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        if path.is_file() and ".git/" not in relative and dockerfile.claims(relative):
            found[relative] = path.read_bytes()
    return found


@pytest.mark.parametrize("name", CASES)
def test_patched_dockerfiles_pass_buildkit_front_end(name, tmp_path):
    patched = patch_case("docker", name, tmp_path)
    repo, before = patched.repo, patched.before
    originals = tmp_path / "originals"
    for relative in patched.changed():
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
