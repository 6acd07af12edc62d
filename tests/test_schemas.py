"""The CI schemas come from the installed check-jsonschema, read without importing it, and a
patched workflow is still validated before anything is written. Validation remembers the steps
that were valid (every patched job repeats the same cache steps), steps alike but for their
`run:` text, and jobs alike but for their steps; the errors it reports are exactly a plain
validator's."""

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
    """What a validator that remembers nothing reports, each failure told as `patch` tells it."""
    schema = schemas.load_schema(schemas.GITHUB_WORKFLOW)
    validator = jsonschema.validators.validator_for(schema)(schema, format_checker=None)
    found = []
    for error in validator.iter_errors(document):
        telling = schemas.most_telling(error)
        found.append((list(telling.absolute_path), schemas._short(telling.message)))
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


def _alike_jobs(count: int) -> dict:
    """A workflow of jobs alike but for their `run:` text, as a generated or patched one is."""
    workflow = YAML(typ="safe").load(BASIC.read_text())
    job = workflow["jobs"]["test"]
    jobs = {}
    for index in range(count):
        copied = copy.deepcopy(job)
        copied["steps"].append({"name": f"step {index}", "run": f"go test ./pkg{index}/..."})
        jobs[f"job{index}"] = copied
    return {**workflow, "jobs": jobs}


@pytest.mark.parametrize(
    "break_it",
    [
        lambda job: job["steps"][-1].update(run=5),  # not a string: any text, but only text
        lambda job: job["steps"][-1].update(name=None),
        lambda job: job["steps"][-1].update(uses="actions/checkout@v4"),  # run and uses at once
        lambda job: job["steps"][-1].update(shell={"not": "a shell"}),
        lambda job: job.update(steps=[]),  # at least one step
        lambda job: job.update(steps="make test"),
        lambda job: job.update({"timeout-minutes": "soon"}),
        lambda job: job.update({"runs-on": None}),
        lambda job: job.pop("runs-on"),
        lambda job: job.update(unknown=1),
        lambda job: job.update(uses="./.github/workflows/other.yml"),  # a job cannot be both kinds
    ],
)
def test_jobs_alike_but_for_their_run_text_have_a_plain_validators_errors(break_it):
    workflow = _alike_jobs(6)
    for name in ("job2", "job5"):  # after valid alike jobs were remembered, and last
        break_it(workflow["jobs"][name])
    remembered = schemas.schema_errors(workflow, schemas.GITHUB_WORKFLOW)
    assert remembered, "the broken jobs must fail"
    assert remembered == _plain_validator_errors(workflow)


def test_alike_jobs_and_steps_are_checked_once():
    """The remembering `$ref`, around a check that counts what it is asked: 40 jobs alike but for
    their `run:` text are checked in full once, and so is each kind of step."""
    schema = schemas.load_schema(schemas.GITHUB_WORKFLOW)
    plain = jsonschema.validators.validator_for(schema)
    asked: dict[str, int] = {}

    def counting(validator, ref, instance, subschema):
        asked[ref] = asked.get(ref, 0) + 1
        yield from plain.VALIDATORS["$ref"](validator, ref, instance, subschema)

    step, (job,) = schemas.JOBS_OF_STEPS[schemas.GITHUB_WORKFLOW]
    remembering = schemas._remembering_valid(
        counting, {step: schemas._properties_of_any_text(schema, step)}, step, (job,)
    )
    validator = jsonschema.validators.extend(plain, {"$ref": remembering})(schema, format_checker=None)
    workflow = _alike_jobs(40)
    assert list(validator.iter_errors(workflow)) == []
    kinds_of_steps = len({repr(sorted(each)) for each in workflow["jobs"]["job0"]["steps"]})
    assert asked[job] == 1
    assert asked[step] <= len(workflow["jobs"]["job0"]["steps"]) and kinds_of_steps <= asked[step]


def test_a_schema_that_asks_more_of_steps_or_their_text_is_checked_in_full():
    schema = copy.deepcopy(schemas.load_schema(schemas.GITHUB_WORKFLOW))
    step, (job,) = schemas.JOBS_OF_STEPS[schemas.GITHUB_WORKFLOW]
    assert schemas._steps_checked_only_by_item(schema, job, step)
    assert {"run", "name", "uses"} <= schemas._properties_of_any_text(schema, step)

    schema["definitions"]["normalJob"]["properties"]["steps"]["uniqueItems"] = True
    assert not schemas._steps_checked_only_by_item(schema, job, step)
    schema["definitions"]["step"]["properties"]["run"]["pattern"] = "^go "
    assert "run" not in schemas._properties_of_any_text(schema, step)
    schema["definitions"]["step"]["allOf"] = [{"properties": {"name": {"maxLength": 3}}}]
    assert schemas._properties_of_any_text(schema, step) == frozenset()
    schema["definitions"]["normalJob"]["if"] = {"required": ["steps"]}
    schema["definitions"]["normalJob"]["properties"]["steps"].pop("uniqueItems")
    assert not schemas._steps_checked_only_by_item(schema, job, step)


@pytest.mark.parametrize(
    "job, path, message",
    [
        # grpc-go's deps.yml: check-jsonschema's best deep match says the same.
        ({"runs-on": "ubuntu-latest", "strategy": {"fail-fast": True}, "steps": [{"run": "go test"}]},
         ["jobs", "deps", "strategy"], "'matrix' is a required property"),
        ({"runs-on": "ubuntu-latest", "steps": [{"run": "go test", "timeout-minutes": "soon"}]},
         ["jobs", "deps", "steps", 0, "timeout-minutes"], "'soon' is not of type 'number'"),
    ],
)
def test_a_job_that_fits_neither_kind_is_told_by_its_deepest_error(job, path, message):
    """A job is a `oneOf` of two kinds; when it fits neither, the error reported is the deepest one
    inside that choice, at its own place, instead of the whole job printed as invalid."""
    workflow = {"on": "push", "jobs": {"deps": job}}
    errors = schemas.schema_errors(workflow, schemas.GITHUB_WORKFLOW)
    assert errors[0] == (path, message)
