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


@lru_cache(maxsize=None)
def _validator(name: str) -> Any:
    # jsonschema loads in a few hundred milliseconds: only a run that writes something pays for it.
    import jsonschema

    schema = load_schema(name)
    validator_class = jsonschema.validators.validator_for(schema)
    return validator_class(schema, format_checker=None)


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
