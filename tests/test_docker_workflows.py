"""docker/build-push-action steps: the golden fixtures of tests/fixtures/docker-workflows/ (walked
by test_golden.py) checked with check-jsonschema, actionlint and zizmor, and what each case shows."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from support.buildkit import assert_front_end_accepts
from support.cli import run_cli
from support.golden import case_config, cases, patch_case
from support.tools import actionlint, tool, zizmor_findings

from ci_gocache.pins import pinned_uses
from ci_gocache.targets import dockerfile, github

FIXTURES = Path(__file__).parent / "fixtures" / "docker-workflows"
CASES = cases("docker-workflows")


def _case(name: str) -> dict:
    return case_config("docker-workflows", name)


def _ci_files(root: Path) -> dict[str, bytes]:
    found = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        if path.is_file() and not relative.startswith(".git/") and (github.claims(relative) or dockerfile.claims(relative)):
            found[relative] = path.read_bytes()
    return found


def _workflow(content: bytes) -> dict:
    return YAML(typ="safe").load(content.decode())


@pytest.fixture(params=CASES)
def patched_case(request, tmp_path):
    return patch_case("docker-workflows", request.param, tmp_path)


def test_patched_files_pass_schema_actionlint_zizmor_and_buildkit(patched_case, tmp_path):
    name, repo, before = patched_case.name, patched_case.repo, patched_case.before
    originals = tmp_path / "originals"
    for relative in patched_case.changed():
        original = originals / relative
        original.parent.mkdir(parents=True, exist_ok=True)
        original.write_bytes(before[relative])
        patched = repo / relative
        if dockerfile.claims(relative):
            assert_front_end_accepts(original, patched)
            continue
        schema = subprocess.run(
            [tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(patched)],
            capture_output=True,
            text=True,
        )
        assert schema.returncode == 0, schema.stdout + schema.stderr
        lint = actionlint(patched)
        assert lint.returncode == 0, lint.stdout + lint.stderr
        found_before, found_after = zizmor_findings(original), zizmor_findings(patched)
        new = {ident: count for ident, count in found_after.items() if count > found_before[ident]}
        assert not new, f"{name}/{relative}: new zizmor findings {new}"


def _patched(name: str, tmp_path: Path) -> dict[str, bytes]:
    repo = tmp_path / name
    shutil.copytree(FIXTURES / name / "repo", repo)
    (repo / ".git").mkdir()
    result = run_cli("patch", *_case(name).get("args", []), cwd=repo)
    assert result.returncode == 0, result.stderr
    return _ci_files(repo)


def _steps(content: bytes, job: str) -> list[dict]:
    return _workflow(content)["jobs"][job]["steps"]


def _build_steps(steps: list[dict]) -> list[dict]:
    return [step for step in steps if str(step.get("uses", "")).startswith("docker/build-push-action@")]


def test_registry_cache_comes_from_the_metadata_image_and_never_writes_on_pull_requests(tmp_path):
    after = _patched("registry-metadata", tmp_path)
    steps = _steps(after[".github/workflows/image.yml"], "image")
    build = _build_steps(steps)[0]["with"]
    assert build["cache-from"] == "type=registry,ref=ghcr.io/${{ github.repository }}:buildcache"
    cache_to = build["cache-to"]
    assert "(github.event_name != 'pull_request') && github.event_name == 'push'" in cache_to
    assert "format('type=registry,ref=ghcr.io/{0}:buildcache,mode=max,image-manifest=true,oci-mediatypes=true,ignore-error=true', github.repository)" in cache_to
    buildx = [step for step in steps if str(step.get("uses", "")).startswith("docker/setup-buildx-action@")]
    assert [step["uses"] for step in buildx] == [pinned_uses("docker/setup-buildx-action").split(" #")[0]]
    assert steps.index(buildx[0]) < steps.index(_build_steps(steps)[0])


def test_gha_cache_is_scoped_per_workflow_job_step_and_matrix(tmp_path):
    after = _patched("gha-matrix", tmp_path)
    steps = _steps(after[".github/workflows/docker.yaml"], "smoke")
    first, second = (step["with"] for step in _build_steps(steps))
    assert first["cache-from"] == "type=gha,scope=docker-smoke-app-${{ matrix.platform }}"
    assert second["cache-from"] == "type=gha,scope=docker-smoke-debug-${{ matrix.platform }}"
    assert "format('type=gha,mode=max,ignore-error=true,scope=docker-smoke-app-{0}', matrix.platform)" in first["cache-to"]
    # The job already sets up buildx: no second setup step.
    assert sum(1 for step in steps if "setup-buildx-action" in str(step.get("uses"))) == 1


def test_cache_dance_maps_the_patched_dockerfile_mounts_and_saves_after_extraction(tmp_path):
    after = _patched("dance-go-job", tmp_path)
    steps = _steps(after[".github/workflows/ci.yml"], "build")
    ids = [step.get("id") for step in steps]
    dance = steps[ids.index("ci-gocache-docker-dance")]
    cache_map = json.loads(dance["with"]["cache-map"])
    # The modules stay in the download layer (the registry/gha cache exports layers, never
    # cache mounts); the dance carries the build cache mount only.
    assert sorted(cache_map.values()) == ["/root/.cache/go-build"]
    assert b"target=/go/pkg/mod" not in after["Dockerfile"]
    assert dance["with"]["builder"] == "${{ steps.ci-gocache-buildx.outputs.name }}"
    build_index = steps.index(_build_steps(steps)[0])
    assert ids.index("ci-gocache-buildx") < ids.index("ci-gocache-docker-mounts") < ids.index("ci-gocache-docker-dance") < build_index
    assert build_index < ids.index("ci-gocache-docker-extract") < ids.index("ci-gocache-docker-save")
    save = steps[ids.index("ci-gocache-docker-save")]
    assert save["with"]["path"] == steps[ids.index("ci-gocache-docker-mounts")]["with"]["path"]
    for host in cache_map:
        assert host in save["with"]["path"]
    assert "github.event_name == 'push'" in save["if"]
    # The Go caches of the same job are there too, their save steps after ours.
    assert ids.index("go-mod-cache") < build_index
    assert [step.get("name") for step in steps[-2:]] == ["Save Go module cache", "Save Go build cache"]


def test_release_workflow_restores_cache_mounts_but_never_saves(tmp_path):
    after = _patched("release-dance", tmp_path)
    steps = _steps(after[".github/workflows/release.yml"], "image")
    ids = [step.get("id") for step in steps]
    assert "ci-gocache-docker-mounts" in ids and "ci-gocache-docker-save" not in ids
    assert "ci-gocache-docker-extract" not in ids
    assert steps[ids.index("ci-gocache-docker-mounts")]["uses"].startswith("actions/cache/restore@")
    build = _build_steps(steps)[0]["with"]
    assert build["cache-from"] == "type=registry,ref=registry.example.com:5000/acme/app:buildcache"


def test_every_added_action_is_pinned(patched_case):
    before, after = patched_case.before, patched_case.after
    pins = {pinned_uses(name).split(" #")[0] for name in (
        "docker/setup-buildx-action", "reproducible-containers/buildkit-cache-dance", "actions/cache/restore",
        "actions/cache/save", "actions/cache",
    )}
    for relative, content in after.items():
        if not github.claims(relative):
            continue
        added = set(re.findall(r"uses: (\S+)", content.decode())) - set(re.findall(r"uses: (\S+)", before[relative].decode()))
        assert added <= pins, added
