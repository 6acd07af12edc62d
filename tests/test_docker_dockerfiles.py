"""Dockerfile golden fixtures (tests/fixtures/docker/, walked by test_golden.py), checked with
BuildKit's own Dockerfile front end.
"""

from __future__ import annotations

import re
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
        if not dockerfile.claims(relative):
            continue
        original = originals / relative
        original.parent.mkdir(parents=True, exist_ok=True)
        original.write_bytes(before[relative])
        report = assert_front_end_accepts(original, repo / relative)
        layer = _builds_on_fresh_builders(repo)
        for run in runs(report):
            script = script_of(run)
            if script.lstrip().startswith("#"):
                continue  # `RUN # ...` is a shell comment: it runs nothing
            cache_targets = [mount["target"] for mount in run["mounts"] if mount["type"] == "cache"]
            if not cache_targets:
                continue  # a stage left without mounts; the case's notices (case.json) say why
            module_mounted = any(target.endswith("/pkg/mod") for target in cache_targets)
            if GO_DOWNLOAD.search(script):
                # On a fresh CI builder the modules must stay in the download layer.
                assert module_mounted is not layer, (name, run)
            elif GO_BUILD.search(script):
                assert any("go-build" in target for target in cache_targets), (name, run)
                assert module_mounted or layer, (name, run)


def _builds_on_fresh_builders(repo: Path) -> bool:
    """CI builds images with buildx and a layer cache: GitLab jobs (rewritten to buildx with a
    registry cache), build-push-action steps, or commands with --cache-from."""
    for path in repo.rglob("*.yml"):
        text = path.read_text()
        if path.name.endswith(".gitlab-ci.yml") and re.search(r"docker (buildx )?build", text):
            return True
        if "docker/build-push-action@" in text or "--cache-from" in text:
            return True
    return False


def test_fixture_originals_are_valid_dockerfiles():
    """The front end accepts every original too, so the comparisons above start from valid files."""
    for name in CASES:
        for relative in _dockerfiles(FIXTURES / name / "repo"):
            path = FIXTURES / name / "repo" / relative
            assert_front_end_accepts(path, path)
