"""The facts the GitHub workflow planner and the build-push-action steps share: steps, jobs, workflows."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ci_gocache.repo import RepoFacts


GO_USING_ACTIONS = ("golang/govulncheck-action", "ko-build/setup-ko")
MATRIX_EXPRESSION = re.compile(r"\$\{\{\s*matrix\.([A-Za-z0-9_-]+)\s*\}\}")
EXPRESSION = re.compile(r"\$\{\{.*?\}\}")

LINT_ACTION = "golangci/golangci-lint-action"
SETUP_GO = "actions/setup-go"


@dataclass
class StepFacts:
    index: int
    line: int
    step_id: str | None
    name: str | None
    uses: str | None
    action: str | None
    ref: str | None
    run: str | None
    working_directory: str | None
    inputs: dict[str, Any]
    needs_go: bool
    shared: bool
    flow: bool
    # positions: offsets into the text
    item_line_start: int
    dash_column: int
    key_column: int
    content_end: int
    next_item_comment_start: int | None = None
    with_info: dict[str, Any] = field(default_factory=dict)
    uses_line_end: int = 0
    env: dict[str, Any] = field(default_factory=dict)
    condition: str | None = None  # the step's `if:`
    # Sets Go up (setup-go, or a local composite action or an action that does it inside).
    sets_up_go: bool = False
    # Checks this repository out (actions/checkout of the workflow's own repository).
    checks_out: bool = False
    # Holds a node an alias elsewhere points at: removing the step would break the alias.
    holds_shared_node: bool = False


@dataclass
class CacheUse:
    kind: str  # setup-go | actions/cache | golangci-lint | ci-gocache
    step_index: int
    line: int
    detail: str
    go_paths_only: bool = True


@dataclass
class JobFacts:
    job_id: str
    line: int
    col: int
    name: str | None
    reusable: bool
    runs_on: list[str]
    matrix: dict[str, Any]
    container_image: str | None
    working_directory: str | None
    go_reasons: list[str]
    caches: list[CacheUse]
    docker_builds: list[str]
    steps: list[StepFacts]
    editable: bool
    not_editable_reason: str
    steps_line_start: int = 0
    indent_unit: int = 2
    module_directories: list[str] = field(default_factory=list)
    sum_files: list[str] = field(default_factory=list)
    hash_arguments: list[str] = field(default_factory=list)
    # Workspace-relative directories of the keyed modules (go.work directories for go.work.sum).
    module_roots: list[str] = field(default_factory=list)
    shell: str = "bash"
    publishing_reasons: list[str] = field(default_factory=list)
    already_patched: bool = False
    # Why the job is left alone although it runs Go (its own cache we must not double, ...).
    leave_alone_reason: str = ""
    # Builds with vendored modules (-mod=vendor, vendor/modules.txt): no module cache.
    vendored_reason: str = ""
    # Inputs to set on steps before patching: {step index: {input: value}}.
    step_inputs: dict[int, dict[str, str]] = field(default_factory=dict)

    @property
    def is_go(self) -> bool:
        return bool(self.go_reasons)


@dataclass
class WorkflowFacts:
    path: str
    triggers: list[str]
    publishing_reasons: list[str]
    jobs: list[JobFacts]
    newline: str
    text: str = ""
    document: dict[str, Any] = field(default_factory=dict)
    repo: RepoFacts | None = None
    root_node: Any = None
    events: dict[str, Any] = field(default_factory=dict)


def runner_systems(job: JobFacts) -> frozenset[str]:
    """The kinds of runner the job's `runs-on` labels name (matrix values expanded): Linux,
    Windows, macOS, or ? for a label that names none (self-hosted labels, expressions)."""
    found = set()
    for label in job.runs_on:
        lowered = label.lower()
        if "windows" in lowered:
            found.add("Windows")
        elif "macos" in lowered or lowered.startswith("mac"):
            found.add("macOS")
        elif "ubuntu" in lowered or "linux" in lowered:
            found.add("Linux")
        else:
            found.add("?")
    return frozenset(found or {"?"})


def matrix_values(matrix: dict[str, Any], name: str) -> list[Any]:
    values = list(matrix.get(name) or []) if isinstance(matrix.get(name), list) else []
    for entry in matrix.get("include") or []:
        if isinstance(entry, dict) and name in entry and entry[name] not in values:
            values.append(entry[name])
    return values


def matrix_key_parts(matrix: dict[str, Any]) -> list[str]:
    """`${{ matrix.X }}` for each matrix dimension, so matrix jobs do not share a build cache."""
    names: list[str] = []
    for name, values in matrix.items():
        if name in ("include", "exclude"):
            continue
        names.append(name)
    for entry in matrix.get("include") or []:
        if isinstance(entry, dict):
            for name in entry:
                if name not in names:
                    names.append(name)
    parts: list[str] = []
    for name in names:
        sample = matrix_values(matrix, name)
        if sample and all(isinstance(value, dict) for value in sample):
            subkeys: list[str] = []
            for value in sample:
                for subkey, subvalue in value.items():
                    if not isinstance(subvalue, (dict, list)) and subkey not in subkeys:
                        subkeys.append(subkey)
            parts.extend(f"${{{{ matrix.{name}.{subkey} }}}}" for subkey in subkeys)
        elif sample and all(isinstance(value, list) for value in sample):
            parts.append(f"${{{{ join(matrix.{name}, '_') }}}}")
        else:
            parts.append(f"${{{{ matrix.{name} }}}}")
    return parts
