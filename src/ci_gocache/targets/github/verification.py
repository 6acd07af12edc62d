"""Checking a patched GitHub workflow before it is written: it parses again, matches the schema, and
differs from the original only in the cache steps and the cache inputs the patch sets."""

from __future__ import annotations

from typing import Any

from ci_gocache import schemas
from ci_gocache.errors import InputError
from ci_gocache.repo import RepoFacts
from ci_gocache.sourcefile import SourceFile
from ci_gocache.targets.base import PatchOptions
from ci_gocache.targets.github import docker_steps, gouse
from ci_gocache.targets.github.cache_steps import (
    ACTION_STEP_ID,
    BUILD_STEP_ID,
    COMPLETE_MODULES_STEP_ID,
    DIRS_STEP_ID,
    MODULE_STEP_ID,
    SAVE_ACTION_STEP_ID,
)
from ci_gocache.targets.github.facts import LINT_ACTION, SETUP_GO, StepFacts, WorkflowFacts
from ci_gocache.targets.github.inspection import action_of, inspect
from ci_gocache.yamlnodes import locate_node


OUR_STEP_IDS = {DIRS_STEP_ID, MODULE_STEP_ID, BUILD_STEP_ID, COMPLETE_MODULES_STEP_ID, ACTION_STEP_ID, SAVE_ACTION_STEP_ID}
TOUCHED_INPUTS = {
    SETUP_GO: ("cache",),
    LINT_ACTION: ("skip-pkg-cache", "skip-build-cache"),
    **{action: (inputs[1],) for action, inputs in gouse.SELF_CHECKOUT_ACTIONS.items()},
}


def _normalised(document: dict[str, Any], drop: dict[str, set[int]], ours: bool) -> dict[str, Any]:
    """The workflow without the steps we add or replace and without the inputs we touch.

    A new dict wherever it differs from the document (which is the facts' own), the rest shared.
    """
    result = dict(document)
    if isinstance(result.get("jobs"), dict):
        result["jobs"] = {
            job_id: _normalised_job(job, drop.get(job_id, set()), ours) for job_id, job in result["jobs"].items()
        }
    return result


def _normalised_job(job: Any, drop: set[int], ours: bool) -> Any:
    if not isinstance(job, dict) or not isinstance(job.get("steps"), list):
        return job
    kept = []
    for index, step in enumerate(job["steps"]):
        if not isinstance(step, dict):
            kept.append(step)
            continue
        if not ours and index in drop:
            continue
        if ours and _is_our_step(step):
            continue
        step = dict(step)
        if isinstance(step.get("with"), dict):
            step["with"] = dict(step["with"])
        if isinstance(step.get("run"), str):
            # A block scalar at the very end of a file without a final newline gains one
            # when steps are appended after it; a shell does not see the difference.
            step["run"] = step["run"].rstrip("\n")
        action, _ = action_of(str(step.get("uses")) if step.get("uses") else None)
        if action in TOUCHED_INPUTS and isinstance(step.get("with"), dict):
            for name in TOUCHED_INPUTS[action]:
                step["with"].pop(name, None)
            if not step["with"]:
                step.pop("with")
        docker_steps.normalise_step(step, action)
        kept.append(step)
    return {**job, "steps": kept}


def _is_our_step_facts(step: StepFacts) -> bool:
    return step.step_id in (DIRS_STEP_ID, SAVE_ACTION_STEP_ID) or (
        step.action is not None and step.action.endswith("/ci-gocache")
    )


def _is_our_step(step: dict[str, Any]) -> bool:
    if step.get("id") in OUR_STEP_IDS or docker_steps.is_our_step(step):
        return True
    uses = str(step.get("uses") or "")
    with_inputs = step.get("with") if isinstance(step.get("with"), dict) else {}
    if uses.startswith("actions/cache/") and f"steps.{DIRS_STEP_ID}." in str(with_inputs.get("path", "")):
        return True
    return step.get("name") in {"Restore Go caches", "Save Go caches"} and "ci-gocache" in uses


def verify(source: SourceFile, facts: WorkflowFacts, new_text: str, options: PatchOptions) -> WorkflowFacts:
    """Parse the patched text again and check it before anything is written.

    Returns the facts of the patched text, so the pipeline can check that a second plan is empty
    without parsing it once more.
    """
    patched = SourceFile(
        path=source.path,
        display_path=source.display_path,
        text=new_text,
        has_bom=source.has_bom,
        newline=source.newline,
        mode=source.mode,
    )
    try:
        new_facts = inspect(patched, facts.repo or RepoFacts(root=source.path.parent))
    except InputError as error:
        raise InputError(
            source.display_path, error.line, error.col, f"internal error, the patched file would be wrong: {error.message}"
        ) from None
    # Only what is written is validated (schema validation is most of a run's time); when the
    # result fails, the original decides whether the input was already invalid.
    problem = schemas.first_schema_error(
        new_facts.document, schemas.GITHUB_WORKFLOW, lambda path: locate_node(new_facts.root_node, path)
    )
    if problem:
        original_problem = schemas.first_schema_error(
            facts.document, schemas.GITHUB_WORKFLOW, lambda path: locate_node(facts.root_node, path)
        )
        if original_problem:
            line, col, message = original_problem
            raise InputError(
                source.display_path, line, col, f"does not match the GitHub workflow schema {message}; fix the workflow first"
            )
        line, col, message = problem
        raise InputError(source.display_path, line, col, f"internal error, the patched workflow fails the schema {message}")
    original_plain = facts.document
    replaced: dict[str, set[int]] = {}
    patched_jobs = {
        job.job_id for job in new_facts.jobs if any(_is_our_step_facts(step) for step in job.steps)
    }
    for job in facts.jobs:
        if job.job_id not in patched_jobs or any(_is_our_step_facts(step) for step in job.steps):
            continue  # hand-written caches of jobs the patch did not touch stay where they are
        for cache in job.caches:
            if cache.kind.startswith("actions/cache"):
                replaced.setdefault(job.job_id, set()).add(cache.step_index)
    original_ours = {
        job_id: {index for index, step in enumerate(job.get("steps") or []) if isinstance(step, dict) and _is_our_step(step)}
        for job_id, job in (original_plain.get("jobs") or {}).items()
        if isinstance(job, dict)
    }
    for job_id, indices in original_ours.items():
        replaced.setdefault(job_id, set()).update(indices)
    if _normalised(original_plain, replaced, ours=False) != _normalised(new_facts.document, {}, ours=True):
        raise InputError(
            source.display_path, 1, 1, "internal error: the patch changed more than the cache steps; nothing was written"
        )
    return new_facts
