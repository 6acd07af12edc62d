"""The CI schemas come from the installed check-jsonschema, read without importing it, and a
patched workflow is still validated before anything is written. Validation remembers the steps
that were valid (every patched job repeats the same cache steps); the errors it reports are
exactly a plain validator's."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from ruamel.yaml import YAML

from ci_gocache import schemas

SRC = Path(__file__).resolve().parents[1] / "src"
BASIC = Path(__file__).parent / "fixtures" / "github" / "basic" / "expected" / ".github" / "workflows" / "ci.yml"


@pytest.mark.parametrize("name", [schemas.GITHUB_WORKFLOW, schemas.GITHUB_ACTION, schemas.GITLAB_CI])
def test_each_schema_is_the_one_check_jsonschema_uses(name):
    from check_jsonschema.builtin_schemas import get_builtin_schema

    assert schemas.load_schema(name) == get_builtin_schema("vendor." + name.removesuffix(".json"))


def test_loading_a_schema_does_not_import_check_jsonschema():
    """Its __init__ loads its command line and requests: more than a whole `patch --check`."""
    probe = (
        "import sys; from ci_gocache import schemas; schemas.load_schema(schemas.GITHUB_WORKFLOW);"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('check_jsonschema', 'requests')))"
    )
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    completed = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    assert completed.stdout.strip() == "[]"


def test_patch_check_of_a_changing_workflow_validates_the_result(tmp_path):
    """A workflow the patch changes is validated (jsonschema runs); one it leaves alone is not."""
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    (tmp_path / "go.mod").write_text("module example.com/m\n\ngo 1.22\n")
    (tmp_path / "go.sum").write_text("")
    (workflows / "go.yml").write_text(
        "on: push\njobs:\n  test:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - uses: actions/checkout@v4\n      - uses: actions/setup-go@v5\n        with:\n          go-version: '1.22'\n"
        "          cache: false\n      - run: go test ./...\n"
    )
    (workflows / "docs.yml").write_text("on: push\njobs:\n  docs:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo docs\n")
    probe = (
        "import sys; from ci_gocache.cli import main; sys.argv = ['ci-gocache', 'patch', '--check', *sys.argv[1:]]\n"
        "try:\n    main()\nexcept SystemExit as exit:\n    print('exit', exit.code)\n"
        "print('jsonschema' in sys.modules)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    for name, exit_code, validated in (("go.yml", 1, True), ("docs.yml", 0, False)):
        completed = subprocess.run(
            [sys.executable, "-c", probe, f".github/workflows/{name}"], cwd=tmp_path, env=env, capture_output=True, text=True
        )
        lines = completed.stdout.strip().splitlines()
        assert lines[-2:] == [f"exit {exit_code}", str(validated)], completed.stdout + completed.stderr


def _plain_validator_errors(document: dict) -> list[tuple[list, str]]:
    schema = schemas.load_schema(schemas.GITHUB_WORKFLOW)
    validator = jsonschema.validators.validator_for(schema)(schema, format_checker=None)
    found = []
    for error in validator.iter_errors(document):
        best = jsonschema.exceptions.best_match([error])
        found.append((list(best.absolute_path), schemas._short(best.message)))
    return sorted(found, key=lambda item: -len(item[0]))


def test_errors_with_remembered_valid_steps_are_a_plain_validators():
    workflow = YAML(typ="safe").load(BASIC.read_text())
    job = workflow["jobs"]["test"]
    broken = copy.deepcopy(job)
    broken["steps"][0]["run"] = "echo uses and run at once"  # a step is one or the other
    broken["steps"][3]["with"] = {"path": ["not", "a", "string"]}
    broken["steps"][-1]["timeout-minutes"] = "soon"
    # Valid and invalid copies of the same steps, each several times, in both orders.
    workflow["jobs"] = {
        **{f"valid{index}": copy.deepcopy(job) for index in range(3)},
        **{f"broken{index}": copy.deepcopy(broken) for index in range(3)},
        **{f"again{index}": copy.deepcopy(job) for index in range(3)},
    }
    remembered = schemas.schema_errors(workflow, schemas.GITHUB_WORKFLOW)
    assert remembered, "the broken jobs must fail"
    assert remembered == _plain_validator_errors(workflow)
    # A second document: valid steps are remembered across documents, errors still reported.
    assert schemas.schema_errors(workflow, schemas.GITHUB_WORKFLOW) == remembered
    valid_only = {**workflow, "jobs": {"valid0": job}}
    assert schemas.schema_errors(valid_only, schemas.GITHUB_WORKFLOW) == [] == _plain_validator_errors(valid_only)


def test_a_step_with_keys_json_would_confuse_is_not_remembered():
    """`env: {1: x}` and `env: {'1': x}` print alike as JSON; neither may stand for the other."""
    workflow = YAML(typ="safe").load(BASIC.read_text())
    step = workflow["jobs"]["lint"]["steps"][-1]
    for env in ({"1": "x"}, {1: "x"}, {"1": "x"}):
        step["env"] = env
        assert schemas.schema_errors(workflow, schemas.GITHUB_WORKFLOW) == _plain_validator_errors(workflow)
