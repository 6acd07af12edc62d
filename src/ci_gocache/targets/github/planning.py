"""The edits a GitHub workflow gets: where each Go job's cache steps go, which hand-written caches
they replace and which inputs they turn off, decided from the facts (plan() is pure)."""

from __future__ import annotations

import re

from ci_gocache.errors import Notice
from ci_gocache.targets.base import FilePlan, JobOutcome, PatchOptions
from ci_gocache.targets.github import docker_steps, gouse, triggers
from ci_gocache.targets.github.cache_steps import (
    ACTION_STEP_ID,
    MODULE_STEP_ID,
    StepLayout,
    action_style_lines,
    steps_style_lines,
)
from ci_gocache.targets.github.facts import LINT_ACTION, SETUP_GO, JobFacts, StepFacts, WorkflowFacts, runner_systems
from ci_gocache.targets.github.inspection import index_label, major_version, pinned_version_comment
from ci_gocache.targets.github.steps import set_step_inputs
from ci_gocache.textedit import Edit, leading_comment_start, line_start


def _is_setup_step(step: StepFacts) -> bool:
    """A step that only prepares the job (checkout, Go set-up) and runs no Go work of its own."""
    if step.checks_out or step.action == SETUP_GO:
        return True
    return step.sets_up_go and not step.needs_go and step.action not in gouse.SELF_CHECKOUT_ACTIONS


def restore_position(job: JobFacts, replaced: list[StepFacts]) -> tuple[int | None, str]:
    """Where the restore steps go: right after the last checkout or Go set-up that comes before
    any Go work, never later than a hand-written cache they replace (other than past checkout and
    Go set-up steps). (None, why) when no place
    is right: without a checkout first, no key can hash the job's go.sum files."""
    first_checkout = next((step.index for step in job.steps if step.checks_out), None)
    if first_checkout is None:
        return None, (
            "no step checks this repository out before Go runs, so no key could hash its go.sum files; "
            "add an actions/checkout step first"
        )
    position = first_checkout + 1
    for step in job.steps[first_checkout + 1 :]:
        if _is_setup_step(step):
            position = step.index + 1
        elif step.needs_go:
            break
    # A replaced hand-written cache step sets the latest place, unless only checkout and Go
    # set-up come between it and the set-up's end: there the restore sees the right Go version
    # and no step has run without its cache.
    for step in replaced:
        if first_checkout < step.index < position and any(
            not _is_setup_step(between) for between in job.steps[step.index + 1 : position]
        ):
            position = step.index
    if position >= len(job.steps):
        return None, "no step comes after the checkout and Go set-up"
    uses_go_later = any(step.needs_go or step.sets_up_go for step in job.steps[position:])
    if not uses_go_later and not any(step.sets_up_go for step in job.steps):
        return None, "no step that needs Go comes after the checkout"
    return position, ""


def plan(facts: WorkflowFacts, options: PatchOptions) -> FilePlan:
    result = FilePlan()
    if "\r" in facts.text and "\n" not in facts.text:
        for job in facts.jobs:
            if job.is_go:
                _skip(result, facts, job, "skipped", "the file has CR-only line endings; convert them to LF and run again")
        return result
    for job in facts.jobs:
        _plan_job(facts, job, options, result)
    # docker/build-push-action steps (any job): buildx caches, see ci_gocache.docker_steps.
    docker_steps.plan_docker_steps(facts, options, result)
    unsafe = [outcome.job for outcome in result.jobs if outcome.outcome == "unsafe"]
    if unsafe:
        # A structure we cannot edit safely leaves the whole file as it is, so a file is
        # never half patched; the notices say which jobs and why.
        result.edits = []
        for outcome in result.jobs:
            if outcome.outcome == "patched":
                outcome.outcome = "skipped"
                outcome.reason = f"file left unchanged because job {unsafe[0]!r} cannot be edited safely"
                job = next(job for job in facts.jobs if job.job_id == outcome.job)
                result.notices.append(
                    Notice(facts.path, job.line, job.col, f"job {job.job_id!r} left unchanged: {outcome.reason}")
                )
    return result


def _skip(result: FilePlan, facts: WorkflowFacts, job: JobFacts, outcome: str, reason: str) -> None:
    result.jobs.append(JobOutcome(job.job_id, job.line, outcome, reason))
    if outcome in ("skipped", "unsafe"):
        result.notices.append(Notice(facts.path, job.line, job.col, f"job {job.job_id!r} left unchanged: {reason}"))


def _plan_job(facts: WorkflowFacts, job: JobFacts, options: PatchOptions, result: FilePlan) -> None:
    if job.reusable:
        return _skip(result, facts, job, "reusable", "calls a reusable workflow")
    if not job.is_go:
        return _skip(result, facts, job, "not-go", "does not build Go")
    ours = {options.action_repository.lower(), f"{options.action_repository.lower()}/save"}
    if job.already_patched or any(step.action in ours for step in job.steps):
        return _skip(result, facts, job, "already-cached", "already has ci-gocache caching")
    if not job.editable:
        return _skip(result, facts, job, "unsafe", f"{job.not_editable_reason}; it cannot be edited safely")
    if job.leave_alone_reason:
        return _skip(result, facts, job, "skipped", job.leave_alone_reason)
    for step in job.steps:
        if step.shared:
            return _skip(result, facts, job, "unsafe", f"step {index_label(step)} is an alias; it cannot be edited safely")
        if step.flow and step.action in (SETUP_GO, LINT_ACTION):
            return _skip(result, facts, job, "unsafe", f"step {index_label(step)} is written in flow style; set its cache input yourself")
    replaced: list[StepFacts] = []
    for cache in job.caches:
        if cache.kind.startswith("actions/cache"):
            if not cache.go_paths_only:
                return _skip(
                    result,
                    facts,
                    job,
                    "skipped",
                    f"step at line {cache.line} caches Go and other paths together; split it, then run again",
                )
            replaced.append(job.steps[cache.step_index])
    for step in replaced:
        if step.holds_shared_node:
            return _skip(
                result, facts, job, "skipped",
                f"the cache step {index_label(step)} shares an anchored node with another step; "
                "replacing it would break that alias",
            )
    target_index, why_not = restore_position(job, replaced)
    if target_index is None:
        return _skip(result, facts, job, "skipped", why_not)
    edits: list[Edit] = []
    text = facts.text
    newline = facts.newline
    for step in job.steps:
        if step.action == SETUP_GO:
            major = major_version(step.ref) or major_version(pinned_version_comment(text, step.item_line_start))
            if major is not None and major < 3:
                continue
            if major == 3 and "cache" not in step.inputs:
                continue
            edit = set_step_inputs(text, newline, job, step, {"cache": "false"})
            if edit is None:
                return _skip(result, facts, job, "unsafe", f"cannot set `cache: false` on setup-go at line {step.line}")
            edits.extend(edit)
        elif step.action == LINT_ACTION and any(c.kind == "golangci-lint" and "modules" in c.detail and c.step_index == step.index for c in job.caches):
            edit = set_step_inputs(text, newline, job, step, {"skip-pkg-cache": "true", "skip-build-cache": "true"})
            if edit is None:
                return _skip(result, facts, job, "unsafe", f"cannot turn off golangci-lint-action's Go caches at line {step.line}")
            edits.extend(edit)
    for index, values in job.step_inputs.items():
        step = job.steps[index]
        edit = set_step_inputs(text, newline, job, step, values)
        if edit is None:
            settings = ", ".join(f"`{name}: {value}`" for name, value in values.items())
            return _skip(result, facts, job, "skipped", f"cannot set {settings} on step {index_label(step)}; set it yourself")
        edits.extend(edit)
    module_step_id = MODULE_STEP_ID
    for step in replaced:
        if step.step_id and step.action != "actions/cache/save" and re.search(
            rf"steps\.{re.escape(step.step_id)}\.", text
        ):
            module_step_id = step.step_id
    publishing = bool(job.publishing_reasons)
    can_save = not publishing and triggers.policy_can_save(options.save_on, facts.events)
    target = job.steps[target_index]
    layout = StepLayout(target.dash_column, target.key_column, job.indent_unit, newline)
    if options.style == "action" and job.container_image:
        # The action runs its key code with the job's Python; Go images have none.
        result.notices.append(
            Notice(facts.path, job.line, job.col, f"job {job.job_id!r} runs in container {job.container_image}, "
                   "which may have no Python for the ci-gocache action: wrote actions/cache steps instead")
        )
    if options.style == "action" and not job.container_image:
        # A replaced cache step's id stays when later steps read its outputs (the action has cache-hit too).
        step_id = ACTION_STEP_ID if module_step_id == MODULE_STEP_ID else module_step_id
        restore_lines, save_lines = action_style_lines(job, options, layout, can_save, step_id)
    else:
        # Jobs that may run on Windows move the caches off C: there; not in workflows where
        # zizmor reports any write to GITHUB_ENV (pull_request_target, workflow_run).
        work_drive = "Windows" in runner_systems(job) and not job.container_image and not triggers.privileged(facts.events)
        restore_lines, save_lines = steps_style_lines(job, options, layout, module_step_id, can_save, work_drive)
        if job.vendored_reason and module_step_id == MODULE_STEP_ID:
            # Vendored builds read vendor/, not GOMODCACHE: only the build cache is worth a step.
            restore_lines = [lines for lines in restore_lines if "Go module cache" not in lines[0]]
            save_lines = [lines for lines in save_lines if "Go module cache" not in lines[0]]
    insert_at = leading_comment_start(text, target.item_line_start, target.dash_column)
    blank_separated = target.index > 0 and _previous_line_blank(text, insert_at)
    block = _join_steps(restore_lines, newline, blank_separated)
    edits.append(Edit(insert_at, insert_at, block, f"cache restore steps for job {job.job_id}"))
    for step in replaced:
        start = leading_comment_start(text, step.item_line_start, step.dash_column)
        end = step.next_item_comment_start if step.next_item_comment_start is not None else step.content_end
        edits.append(Edit(start, end, "", f"replace hand-written Go cache in job {job.job_id}"))
    if save_lines:
        last = job.steps[-1]
        position = last.content_end
        if last in replaced:
            position = max(position, last.content_end)
        prefix = "" if position == 0 or text[position - 1] == "\n" else newline
        block = _join_steps(save_lines, newline, blank_separated, leading_blank=blank_separated)
        if position == len(text) and not text.endswith("\n"):
            block = block[: -len(newline)]
        edits.append(Edit(position, position, prefix + block, f"cache save steps for job {job.job_id}"))
    result.edits.extend(edits)
    reason_parts = []
    if replaced:
        reason_parts.append("replaced " + ", ".join(f"step at line {step.line}" for step in replaced))
    if job.vendored_reason and module_step_id == MODULE_STEP_ID and options.style == "steps":
        reason_parts.append(f"build cache only: {job.vendored_reason}")
    if publishing:
        reason_parts.append("restore only: " + "; ".join(job.publishing_reasons))
    elif not can_save:
        reason_parts.append(f"restore only: the workflow's triggers never match --save-on {options.save_on}")
    result.jobs.append(JobOutcome(job.job_id, job.line, "patched", "; ".join(reason_parts)))


def _previous_line_blank(text: str, offset: int) -> bool:
    if offset == 0:
        return False
    previous = line_start(text, offset - 1)
    return not text[previous:offset].strip()


def _join_steps(steps: list[list[str]], newline: str, blank_separated: bool, leading_blank: bool = False) -> str:
    pieces = []
    for index, lines in enumerate(steps):
        if blank_separated and (index > 0 or leading_blank):
            pieces.append(newline)
        pieces.append("".join(line + newline for line in lines))
    if blank_separated and not leading_blank:
        pieces.append(newline)
    return "".join(pieces)
