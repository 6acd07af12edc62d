"""Schema validation remembers the steps that were valid (every patched job repeats the same
cache steps); the errors it reports are exactly a plain validator's."""

from __future__ import annotations

import copy
from pathlib import Path

import jsonschema
from ruamel.yaml import YAML

from ci_gocache import schemas

BASIC = Path(__file__).parent / "fixtures" / "github" / "basic" / "expected" / ".github" / "workflows" / "ci.yml"


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
