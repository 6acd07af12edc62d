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


@lru_cache(maxsize=None)
def _validator(name: str) -> Any:
    # jsonschema loads in a few hundred milliseconds: only a run that writes something pays for it.
    import jsonschema

    schema = load_schema(name)
    validator_class = jsonschema.validators.validator_for(schema)
    repeated = REPEATED_DEFINITIONS.get(name)
    if repeated:
        validator_class = jsonschema.validators.extend(
            validator_class, {"$ref": _remembering_valid(validator_class.VALIDATORS["$ref"], repeated)}
        )
    return validator_class(schema, format_checker=None)


def _remembering_valid(check_reference: Callable[..., Any], references: tuple[str, ...]) -> Callable[..., Any]:
    """The `$ref` keyword, remembering the instances of these references that had no error.

    Whether an instance is valid against a fixed definition depends on nothing else, so the
    errors are the same as without it; invalid instances are checked each time, for their errors.
    """
    valid: set[tuple[str, str]] = set()

    def reference(validator: Any, ref: str, instance: Any, schema: Any) -> Any:
        if ref not in references:
            yield from check_reference(validator, ref, instance, schema)
            return
        fingerprint = _fingerprint(instance)
        if fingerprint is not None and (ref, fingerprint) in valid:
            return
        errors = list(check_reference(validator, ref, instance, schema))
        if not errors and fingerprint is not None:
            valid.add((ref, fingerprint))
        yield from errors

    return reference


def _fingerprint(instance: Any) -> str | None:
    """JSON text that tells any two instances apart (so not for mappings with keys that are not
    strings, which JSON would write as strings)."""
    if not _string_keys_only(instance):
        return None
    return json.dumps(instance, sort_keys=True)


def _string_keys_only(value: Any) -> bool:
    if isinstance(value, dict):
        return all(isinstance(key, str) and _string_keys_only(item) for key, item in value.items())
    if isinstance(value, list):
        return all(_string_keys_only(item) for item in value)
    return True


def schema_errors(document: Any, name: str) -> list[tuple[list[Any], str]]:
    """Each error as (path into the document, message), the deepest first."""
    import jsonschema

    found = []
    for error in _validator(name).iter_errors(document):
        best = jsonschema.exceptions.best_match([error])
        found.append((list(best.absolute_path), _short(best.message)))
    return sorted(found, key=lambda item: -len(item[0]))


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
