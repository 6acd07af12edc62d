"""The CI schemas that check-jsonschema ships, loaded from the installed package (no network)."""

from __future__ import annotations

import importlib.util
import json
import os
from functools import lru_cache
from typing import Any, Callable

GITHUB_WORKFLOW = "github-workflows.json"
GITHUB_ACTION = "github-actions.json"
GITLAB_CI = "gitlab-ci.json"


@lru_cache(maxsize=None)
def load_schema(name: str) -> dict[str, Any]:
    return json.loads(_vendored_schema_text(name))


def _vendored_schema_text(name: str) -> str:
    """The schema file, found without importing check_jsonschema: its __init__ loads its whole
    command line (requests among it), which cost `patch --check` more than the check itself."""
    spec = importlib.util.find_spec("check_jsonschema")  # a top-level package: found, not run
    for location in (spec.submodule_search_locations or []) if spec else []:
        path = os.path.join(location, "builtin_schemas", "vendor", name)
        if os.path.isfile(path):
            with open(path, encoding="utf-8") as handle:
                return handle.read()
    from importlib import resources  # an installation that is not plain files (a zip)

    return (resources.files("check_jsonschema") / "builtin_schemas" / "vendor" / name).read_text(encoding="utf-8")


# Definitions whose instances repeat across a document (steps: every patched job has the same
# cache steps). An instance that validated once is not validated again.
REPEATED_DEFINITIONS = {GITHUB_WORKFLOW: ("#/definitions/step",)}
# Job definitions whose `steps:` hold instances of that step definition: a job is remembered
# apart from its steps (see _remembering_valid).
JOBS_OF_STEPS = {GITHUB_WORKFLOW: ("#/definitions/step", ("#/definitions/normalJob",))}


@lru_cache(maxsize=None)
def _validator(name: str) -> Any:
    # jsonschema loads in a few hundred milliseconds: only a run that writes something pays for it.
    import jsonschema

    schema = load_schema(name)
    validator_class = jsonschema.validators.validator_for(schema)
    repeated = REPEATED_DEFINITIONS.get(name)
    if repeated:
        step, jobs = JOBS_OF_STEPS.get(name, ("", ()))
        validator_class = jsonschema.validators.extend(
            validator_class,
            {
                "$ref": _remembering_valid(
                    validator_class.VALIDATORS["$ref"],
                    {reference: _properties_of_any_text(schema, reference) for reference in repeated},
                    step,
                    tuple(job for job in jobs if _steps_checked_only_by_item(schema, job, step)),
                )
            },
        )
    return validator_class(schema, format_checker=None)


_ANNOTATIONS = {"$comment", "description"}


def _values_checked_only_by_properties(definition: Any) -> bool:
    """Does this definition look at the values of an object's keys only through `properties`?
    Its other keywords may only ask which keys there are: `required`, `dependencies` lists, a
    boolean `additionalProperties`, and `oneOf`/`anyOf`/`allOf` branches of those."""
    if not isinstance(definition, dict):
        return False
    for keyword, value in definition.items():
        if keyword in _ANNOTATIONS or keyword in ("type", "properties", "required"):
            continue
        if keyword == "additionalProperties" and isinstance(value, bool):
            continue
        if keyword == "dependencies" and isinstance(value, dict) and all(isinstance(keys, list) for keys in value.values()):
            continue
        if keyword in ("oneOf", "anyOf", "allOf") and isinstance(value, list) and all(map(_asks_only_which_keys, value)):
            continue
        return False
    return True


def _asks_only_which_keys(branch: Any) -> bool:
    return isinstance(branch, dict) and all(
        keyword in _ANNOTATIONS
        or keyword in ("type", "required")
        or (keyword == "properties" and isinstance(value, dict) and all(rule is True or rule == {} for rule in value.values()))
        for keyword, value in branch.items()
    )


def _without_annotations(rule: Any) -> Any:
    return {key: value for key, value in rule.items() if key not in _ANNOTATIONS} if isinstance(rule, dict) else rule


def _properties_of_any_text(schema: dict[str, Any], reference: str) -> frozenset[str]:
    """The properties of a definition that take any string and nothing else (a step's `run:`,
    `name:`, `uses:`), when nothing else in it looks at their values: which string such a value
    is changes nothing about whether an instance is valid. Read from the schema itself."""
    definition = _definition(schema, reference)
    if not _values_checked_only_by_properties(definition):
        return frozenset()
    properties = definition.get("properties")
    if not isinstance(properties, dict):
        return frozenset()
    return frozenset(name for name, rule in properties.items() if _without_annotations(rule) == {"type": "string"})


def _steps_checked_only_by_item(schema: dict[str, Any], job_reference: str, step_reference: str) -> bool:
    """Does this job definition take as `steps:` any list of at least one valid step, and look at
    them in no other way? Then, once each of a job's steps is known to be valid, whether the job
    is valid depends only on its other keys and on how many steps it has. Read from the schema
    itself, so a schema that asks more of `steps:` is validated in full."""
    job = _definition(schema, job_reference)
    if not _values_checked_only_by_properties(job):
        return False
    steps = (job.get("properties") or {}).get("steps")
    return _without_annotations(steps) == {"type": "array", "items": {"$ref": step_reference}, "minItems": 1}


def _definition(schema: dict[str, Any], reference: str) -> Any:
    if not reference.startswith("#/definitions/"):
        return None
    return (schema.get("definitions") or {}).get(reference.removeprefix("#/definitions/"))


def _remembering_valid(
    check_reference: Callable[..., Any],
    references: dict[str, frozenset[str]],
    step_reference: str,
    job_references: tuple[str, ...],
) -> Callable[..., Any]:
    """The `$ref` keyword, remembering the instances of these references that had no error.

    Whether an instance is valid against a fixed definition depends on nothing else, so the
    errors are the same as without it; invalid instances are checked each time, for their errors.
    - `references` maps each definition to its properties that take any text: instances that
      differ only in those strings are remembered as one (each job's own `run:` step).
    - A job of `job_references` whose steps are each valid is remembered as its other keys and
      how many steps it has: 3,000 jobs alike but for their `run:` are checked once.
    """
    valid: set[tuple[str, str]] = set()

    def reference(validator: Any, ref: str, instance: Any, schema: Any) -> Any:
        if ref in job_references:
            fingerprint = job_fingerprint(validator, instance, schema)
        elif ref in references:
            fingerprint = _fingerprint(_any_text_alike(instance, references[ref]))
        else:
            yield from check_reference(validator, ref, instance, schema)
            return
        if fingerprint is not None and (ref, fingerprint) in valid:
            return
        errors = list(check_reference(validator, ref, instance, schema))
        if not errors and fingerprint is not None:
            valid.add((ref, fingerprint))
        yield from errors

    def job_fingerprint(validator: Any, job: Any, schema: Any) -> str | None:
        steps = job.get("steps") if isinstance(job, dict) else None
        if not isinstance(steps, list):
            return None
        for step in steps:
            if next(iter(reference(validator, step_reference, step, schema)), None) is not None:
                return None  # an invalid step: the job is checked in full, for its errors
        others = _fingerprint({key: value for key, value in job.items() if key != "steps"})
        return f"{len(steps)} valid steps and {others}"

    return reference


_ANY_TEXT = "any text"


def _any_text_alike(instance: Any, properties: frozenset[str]) -> Any:
    """The instance with the strings of these properties all the same (other values as they are)."""
    if not properties or not isinstance(instance, dict):
        return instance
    return {key: _ANY_TEXT if key in properties and isinstance(value, str) else value for key, value in instance.items()}


def _fingerprint(instance: Any) -> str:
    """Text that tells any two plain values apart: repr writes `1` and `'1'`, `True` and `1`,
    `1` and `1.0` differently, in mapping keys too. Equal mappings in another key order only
    miss being remembered."""
    return repr(instance)


def schema_errors(document: Any, name: str) -> list[tuple[list[Any], str]]:
    """Each error as (path into the document, message), the deepest first."""
    found = []
    for error in _validator(name).iter_errors(document):
        telling = most_telling(error)
        found.append((list(telling.absolute_path), _short(telling.message)))
    return sorted(found, key=lambda item: -len(item[0]))


def most_telling(error: Any) -> Any:
    """The error to report for one failure: of it and the errors inside it (the branches of a
    `oneOf` or `anyOf`), the deepest in the document that is not itself such a choice. A job
    that fits neither job kind then reports `strategy: 'matrix' is a required property` at its
    `strategy:`, not the whole job printed as invalid under any of the given schemas."""
    candidates = []
    pending = [error]
    while pending:
        current = pending.pop(0)
        candidates.append(current)
        pending.extend(current.context or ())
    return max(
        candidates,
        key=lambda candidate: (candidate.validator not in ("anyOf", "oneOf"), len(candidate.absolute_path)),
    )


def first_schema_error(
    document: Any, name: str, locate: Callable[[list[Any]], tuple[int, int]]
) -> tuple[int, int, str] | None:
    errors = schema_errors(document, name)
    if not errors:
        return None
    path, message = errors[0]
    line, col = locate(path)
    where = "/".join(str(part) for part in path) or "(root)"
    return line, col, f"at {where}: {message}"


def _short(message: str) -> str:
    return message if len(message) <= 300 else message[:297] + "..."
