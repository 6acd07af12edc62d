"""The bundled examples are tested, not just shown: `ci-gocache patch` on each one changes
every CI file in it, the results pass the real validators, and a second run changes nothing."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from support.buildkit import assert_front_end_accepts
from support.cli import run_cli
from support.tools import actionlint_findings, tool, zizmor_findings

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
CI_FILES = (".github/workflows/ci.yml", ".gitlab-ci.yml", "Dockerfile")


@pytest.fixture(params=sorted(path.name for path in EXAMPLES.iterdir() if path.is_dir()))
def patched_example(request, tmp_path: Path) -> tuple[Path, Path]:
    original = EXAMPLES / request.param
    copy = tmp_path / request.param
    shutil.copytree(original, copy)
    result = run_cli("patch", cwd=copy)
    assert result.returncode == 0, result.stderr
    return original, copy


def test_every_ci_file_of_the_example_is_patched(patched_example):
    original, copy = patched_example
    present = [name for name in CI_FILES if (original / name).exists()]
    assert present
    for name in present:
        assert (copy / name).read_bytes() != (original / name).read_bytes(), f"{name} was not patched"


def test_second_run_changes_nothing(patched_example):
    _, copy = patched_example
    assert run_cli("patch", "--check", cwd=copy).returncode == 0


def test_patched_example_passes_the_real_validators(patched_example, tmp_path):
    original, copy = patched_example
    workflow = copy / ".github/workflows/ci.yml"
    if workflow.exists():
        schema = subprocess.run(
            [tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(workflow)],
            capture_output=True, text=True,
        )
        assert schema.returncode == 0, schema.stdout
        before = tmp_path / "before.yml"
        before.write_bytes((original / ".github/workflows/ci.yml").read_bytes())
        assert actionlint_findings(workflow) - actionlint_findings(before) == {}
        assert zizmor_findings(workflow)["cache-poisoning"] == 0
    gitlab = copy / ".gitlab-ci.yml"
    if gitlab.exists():
        schema = subprocess.run(
            [tool("check-jsonschema"), "--builtin-schema", "vendor.gitlab-ci", "--data-transform", "gitlab-ci", str(gitlab)],
            capture_output=True, text=True,
        )
        assert schema.returncode == 0, schema.stdout
    dockerfile = copy / "Dockerfile"
    if dockerfile.exists():
        assert_front_end_accepts(original / "Dockerfile", dockerfile)


def test_the_readme_quickstart_example_builds_with_go(tmp_path):
    """The example is a real Go program: it builds with the module proxy."""
    copy = tmp_path / "basic"
    shutil.copytree(EXAMPLES / "basic", copy)
    built = subprocess.run(["go", "build", "./..."], cwd=copy, capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
