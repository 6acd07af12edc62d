"""Cache flow: for every Go cache a job restores, is there a job that saves it?

A restore that nothing saves is a cache that never fills: the job pays for the lookup and
builds from scratch on every run. This happens with restore-only jobs (publishing jobs, or
workflows that never run on the default branch) whose keys no other job writes. The check
reads the workflows as they are (`inspect`) or as patched (`patch`) and matches each restore
against every save step of the repository:

- the same key text (after `${{ github.job }}` is resolved), or a saved key that starts with
  one of the restore's `restore-keys`;
- on the same kind of runner (Linux, Windows, macOS);
- with a save that can run on the default branch (caches saved elsewhere are visible only to
  that branch): its `if:` and the workflow's triggers decide.

The idea is CI-neutral; GitLab can follow it with its `cache:` policies.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from typing import Any

from ci_gocache.targets.github import triggers
from ci_gocache.targets.github.facts import JobFacts, StepFacts, WorkflowFacts, runner_systems

OUR_DIRS_OUTPUT = "steps.go-cache-dirs.outputs."
PRIMARY_KEY = re.compile(r"^\$\{\{\s*steps\.([A-Za-z0-9_-]+)\.outputs\.cache-primary-key\s*\}\}$")
GITHUB_JOB = re.compile(r"\$\{\{\s*github\.job\s*\}\}")


@dataclass(frozen=True)
class CacheRestore:
    path: str
    job: str
    line: int
    col: int
    step_line: int
    cache: str
    key: str
    prefixes: tuple[str, ...]
    systems: frozenset[str]


@dataclass(frozen=True)
class CacheSave:
    path: str
    job: str
    step_line: int
    cache: str
    key: str
    systems: frozenset[str]
    on_default_branch: bool


@dataclass(frozen=True)
class FlowFinding:
    restore: CacheRestore
    saved_by: tuple[str, ...]  # "path: job" of the savers that can fill it (empty: none)
    hint: str

    @property
    def saved(self) -> bool:
        return bool(self.saved_by)

    def message(self) -> str:
        what = f"{self.restore.cache} (key {self.restore.key})"
        if self.saved:
            return f"job {self.restore.job!r} restores {what}, saved by {', '.join(self.saved_by)}"
        return f"job {self.restore.job!r} restores a cache that nothing saves: {what}; {self.hint}"

    def as_json(self) -> dict[str, Any]:
        return {
            "path": self.restore.path,
            "job": self.restore.job,
            "line": self.restore.line,
            "step_line": self.restore.step_line,
            "cache": self.restore.cache,
            "key": self.restore.key,
            "saved_by": list(self.saved_by),
            "message": self.message(),
        }


def _same_runner(first: frozenset[str], second: frozenset[str]) -> bool:
    return "?" in first or "?" in second or bool(first & second)


def _resolve(key: str, job: JobFacts) -> str:
    return GITHUB_JOB.sub(job.job_id, key.strip())


def condition_reaches_default_branch(condition: str | None, events: dict[str, Any]) -> bool:
    """Can a step with this `if:` run on the default branch in a workflow with these triggers?"""
    text = re.sub(r"\s+", " ", (condition or "").strip())
    if text.startswith("${{") and text.endswith("}}"):
        text = text[3:-2].strip()
    if text in ("false", "${{ false }}"):
        return False
    if re.search(r"github\.event_name == 'push'", text):
        return triggers.push_reaches_default_branch(events) or "workflow_call" in events
    return triggers.runs_on_default_branch(events)


def _our_cache_name(step: StepFacts) -> str | None:
    path = str(step.inputs.get("path", ""))
    if OUR_DIRS_OUTPUT + "module-cache" in path:
        return "Go module cache"
    if OUR_DIRS_OUTPUT + "build-cache" in path:
        return "Go build cache"
    return None


def _restore_keys(step: StepFacts, job: JobFacts) -> tuple[str, ...]:
    text = str(step.inputs.get("restore-keys") or "")
    return tuple(_resolve(line, job) for line in text.splitlines() if line.strip())


def job_flows(workflow: WorkflowFacts, job: JobFacts) -> tuple[list[CacheRestore], list[CacheSave]]:
    """The Go caches one job restores and saves."""
    restores: list[CacheRestore] = []
    saves: list[CacheSave] = []
    systems = runner_systems(job)
    events = workflow.events
    go_cache_steps = {cache.step_index: cache for cache in job.caches}
    keys_by_step: dict[str, tuple[str, str]] = {}

    def restore(step: StepFacts, cache: str, key: str, prefixes: tuple[str, ...] = ()) -> None:
        restores.append(
            CacheRestore(workflow.path, job.job_id, job.line, job.col, step.line, cache, key, prefixes, systems)
        )

    def save(step: StepFacts, cache: str, key: str, condition: str | None) -> None:
        reaches = condition_reaches_default_branch(condition, events)
        saves.append(CacheSave(workflow.path, job.job_id, step.line, cache, key, systems, reaches))

    for step in job.steps:
        ours = _our_cache_name(step)
        cache_use = go_cache_steps.get(step.index)
        if step.action in ("actions/cache/restore", "actions/cache") and (ours or cache_use):
            name = ours or f"hand-written {step.action} of Go's directories"
            key = _resolve(str(step.inputs.get("key", "")), job)
            restore(step, name, key, _restore_keys(step, job))
            if step.step_id:
                keys_by_step[step.step_id] = (name, key)
            if step.action == "actions/cache":
                save(step, name, key, step.condition)
        elif step.action == "actions/cache/save" and (ours or cache_use):
            key_text = str(step.inputs.get("key", "")).strip()
            match = PRIMARY_KEY.match(key_text)
            name, key = keys_by_step.get(match.group(1), (ours or "Go cache", key_text)) if match else (
                ours or "hand-written Go cache",
                _resolve(key_text, job),
            )
            save(step, name, key, step.condition)
        elif cache_use is not None and cache_use.kind == "setup-go":
            dependency = str(step.inputs.get("cache-dependency-path") or "go.sum")
            key = f"setup-go {dependency} ({step.inputs.get('go-version') or step.inputs.get('go-version-file') or ''})"
            restore(step, "setup-go's cache", key)
            save(step, "setup-go's cache", key, step.condition)
        elif cache_use is not None and cache_use.kind == "ci-gocache" and not (step.action or "").endswith("/save"):
            policy = str(step.inputs.get("save", "auto")).strip().lower()
            modules = str(step.inputs.get("modules") or "")
            prefix = str(step.inputs.get("key-prefix") or "gocache-v1")
            module_key = f"ci-gocache action {prefix} modules of {modules or 'the workspace'}"
            build_key = f"ci-gocache action {prefix} build of {job.job_id} {step.inputs.get('extra-key-parts') or ''}".strip()
            restore(step, "Go module cache", module_key)
            restore(step, "Go build cache", build_key)
            saver = next((other for other in job.steps[step.index + 1 :] if (other.action or "").endswith("ci-gocache/save")), None)
            if saver is not None and policy != "never":
                condition = (
                    None if policy == "always" else "github.event_name == 'push'"
                )
                save(saver, "Go module cache", module_key, condition)
                save(saver, "Go build cache", build_key, condition)
    return restores, saves


def analyse(workflows: list[WorkflowFacts]) -> list[FlowFinding]:
    """One finding per Go cache restore in these workflows (one repository), saved or not."""
    restores: list[tuple[CacheRestore, JobFacts, WorkflowFacts]] = []
    saves: list[CacheSave] = []
    for workflow in workflows:
        for job in workflow.jobs:
            if job.reusable:
                continue
            job_restores, job_saves = job_flows(workflow, job)
            restores.extend((restore, job, workflow) for restore in job_restores)
            saves.extend(job_saves)
    savers = SaverIndex(saves)
    return [FlowFinding(restore, savers.of(restore), _hint(job, workflow)) for restore, job, workflow in restores]


class SaverIndex:
    """Which saves can fill a restore, without comparing every restore with every save.

    A save fills a restore when it can run on the default branch, on the same kind of runner,
    and its key equals the restore's key or starts with one of its restore keys. Saves are
    indexed per runner kind by exact key and in key order (a prefix's matches are one run of
    the sorted keys, found by bisection). Restores that ask the same question (every job of a
    generated matrix restores the same module key) share one answer.
    """

    def __init__(self, saves: list[CacheSave]) -> None:
        self._saves = [save for save in saves if save.on_default_branch]
        self._by_systems: dict[frozenset[str], tuple[dict[str, list[int]], list[tuple[str, int]]]] = {}
        self._answers: dict[tuple[str, tuple[str, ...], frozenset[str]], tuple[str, ...]] = {}

    def of(self, restore: CacheRestore) -> tuple[str, ...]:
        """"path: job" of the saves that fill this restore, in the order the saves come."""
        question = (restore.key, restore.prefixes, restore.systems)
        if question not in self._answers:
            self._answers[question] = self._savers(*question)
        return self._answers[question]

    def _savers(self, key: str, prefixes: tuple[str, ...], systems: frozenset[str]) -> tuple[str, ...]:
        by_key, ordered = self._index(systems)
        found = set(by_key.get(key, ()))
        for prefix in prefixes:
            if not prefix:
                continue
            position = bisect.bisect_left(ordered, (prefix, -1))
            while position < len(ordered) and ordered[position][0].startswith(prefix):
                found.add(ordered[position][1])
                position += 1
        labels = (f"{self._saves[index].path}: {self._saves[index].job}" for index in sorted(found))
        return tuple(dict.fromkeys(labels))

    def _index(self, systems: frozenset[str]) -> tuple[dict[str, list[int]], list[tuple[str, int]]]:
        if systems not in self._by_systems:
            by_key: dict[str, list[int]] = {}
            for index, save in enumerate(self._saves):
                if _same_runner(systems, save.systems):
                    by_key.setdefault(save.key, []).append(index)
            ordered = sorted((saved_key, index) for saved_key, indices in by_key.items() for index in indices)
            self._by_systems[systems] = (by_key, ordered)
        return self._by_systems[systems]


def _hint(job: JobFacts, workflow: WorkflowFacts) -> str:
    if job.publishing_reasons:
        return (
            "the job is restore-only because it " + "; ".join(job.publishing_reasons)
            + "; a job that builds the same packages on pushes to the default branch would fill it"
        )
    if not triggers.runs_on_default_branch(workflow.events):
        return "the workflow never runs on the default branch; add `push: {branches: [main]}` (your default branch) to its triggers"
    if not triggers.push_reaches_default_branch(workflow.events):
        return (
            "saves run on pushes to the default branch and this workflow has none; add such a push trigger, "
            "or patch with --save-on always to save on its scheduled and manual runs"
        )
    return "no save step of this key can run on a push to the default branch"


def unsaved(findings: list[FlowFinding]) -> list[FlowFinding]:
    return [finding for finding in findings if not finding.saved]
