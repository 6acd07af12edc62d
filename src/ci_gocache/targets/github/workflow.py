"""GitHub Actions workflows: find Go jobs and give them go.sum-keyed module and build caches.

inspect() reads a workflow into WorkflowFacts (positions included), plan() decides the
edits, verify() parses the result again and checks it. Only textedit.apply_edits writes text.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from ci_gocache import keys, schemas
from ci_gocache.errors import InputError, Notice
from ci_gocache.gocommands import GO_TOOL_COMMAND, MAKE_COMMAND
from ci_gocache.gopaths import is_go_cache_path
from ci_gocache.pins import pinned_uses
from ci_gocache.repo import RepoFacts
from ci_gocache.sourcefile import (
    SourceFile,
    check_keys_are_names,
    compose_documents,
    mapping_get,
    mapping_key_node,
    node_position,
    to_plain,
)
from ci_gocache.targets.base import FilePlan, JobOutcome, PatchOptions
from ci_gocache.targets.github import docker_steps, gouse, triggers
from ci_gocache.targets.github.facts import (
    CacheUse,
    JobFacts,
    StepFacts,
    WorkflowFacts,
    matrix_values,
)
from ci_gocache.targets.github.steps import save_condition, set_step_inputs
from ci_gocache.textedit import Edit, leading_comment_start, line_end, line_start
from ci_gocache.yamlnodes import count_parents, leaf_end, locate_node

NAME = "github"

DIRS_STEP_ID = "go-cache-dirs"
MODULE_STEP_ID = "go-mod-cache"
BUILD_STEP_ID = "go-build-cache"
COMPLETE_MODULES_STEP_ID = "go-mod-complete"
ACTION_STEP_ID = "go-cache"
SAVE_ACTION_STEP_ID = "go-cache-save"
# Inputs of action.yml that --style action writes; tests/test_action_patch.py checks them against it.
ACTION_SAVE_POLICIES = {"default-branch": "auto", "push": "push", "always": "always", "never": "never"}
FORMAT_ARGUMENT = re.compile(r"^format\('((?:[^']|'')*)', matrix\.([A-Za-z0-9_-]+)\)$")

GO_USING_ACTIONS = ("golang/govulncheck-action", "ko-build/setup-ko")
MATRIX_EXPRESSION = re.compile(r"\$\{\{\s*matrix\.([A-Za-z0-9_-]+)\s*\}\}")
EXPRESSION = re.compile(r"\$\{\{.*?\}\}")

LINT_ACTION = "golangci/golangci-lint-action"
SETUP_GO = "actions/setup-go"


def claims(relative_path: str) -> bool:
    normal = "/" + relative_path.replace("\\", "/")
    return "/.github/workflows/" in normal and normal.endswith((".yml", ".yaml"))


# ---------------------------------------------------------------- facts


def _display(node: Node | None) -> str | None:
    if node is None:
        return None
    value = to_plain(node)
    return None if value is None else str(value)


def _action_of(uses: str | None) -> tuple[str | None, str | None]:
    if not uses or uses.startswith(("./", "docker://")):
        return None, None
    path, _, ref = uses.partition("@")
    return path.lower(), ref or None


def _major_version(ref: str | None) -> int | None:
    # A full commit SHA can start with digits; only a tag such as v4, v4.2 or 4.2.1 names a version.
    match = re.fullmatch(r"v?(\d+)(?:\.\d+)*", ref or "")
    return int(match.group(1)) if match else None


def _pinned_version_comment(text: str, line_start_offset: int) -> str | None:
    line = text[line_start_offset : line_end(text, line_start_offset)]
    match = re.search(r"#\s*(v?\d+(?:\.\d+)*)", line)
    return match.group(1) if match else None


def _dash_column(text: str, item: Node) -> int:
    start = item.start_mark.index
    position = start - 1
    while position >= 0 and text[position] == " ":
        position -= 1
    if position >= 0 and text[position] == "-":
        return position - line_start(text, position)
    return item.start_mark.column


def _document(source: SourceFile) -> Node:
    documents = compose_documents(source)
    if len(documents) != 1:
        raise InputError(
            source.display_path,
            1,
            1,
            f"expected one YAML document, found {len(documents)}; a workflow is a single document",
        )
    root = documents[0]
    if not isinstance(root, MappingNode):
        line, col = node_position(root)
        raise InputError(
            source.display_path, line, col, "the top level is not a mapping; a workflow starts with `on:` and `jobs:`"
        )
    return root


def inspect(source: SourceFile, repo: RepoFacts) -> WorkflowFacts:
    root = _document(source)
    check_keys_are_names(root, source.display_path)
    plain = to_plain(root)
    jobs_node = mapping_get(root, "jobs")
    if "jobs" not in plain or "on" not in plain or not isinstance(jobs_node, MappingNode):
        raise InputError(
            source.display_path,
            1,
            1,
            "not a GitHub Actions workflow (no `on:` and `jobs:` mapping); pass a workflow file",
        )
    events = triggers.events_of(plain.get("on"))
    trigger_names = list(events)
    workflow_reasons = triggers.restore_only_reasons(events)
    parents = count_parents(root)
    text = source.text
    workflow_defaults = ((plain.get("defaults") or {}).get("run") or {}) if isinstance(plain.get("defaults"), dict) else {}
    indent_unit = 2
    jobs_key = mapping_key_node(root, "jobs")
    if jobs_node.value and jobs_key is not None and not jobs_node.flow_style:
        indent_unit = max(1, jobs_node.value[0][0].start_mark.column - jobs_key.start_mark.column)
    jobs = []
    for job_key_node, job_node in jobs_node.value:
        jobs.append(
            _inspect_job(
                source, repo, text, plain, job_key_node, job_node, parents, workflow_defaults, indent_unit
            )
        )
    for job in jobs:
        job.publishing_reasons = workflow_reasons + job.publishing_reasons
    return WorkflowFacts(
        path=source.display_path,
        triggers=trigger_names,
        publishing_reasons=workflow_reasons,
        jobs=jobs,
        newline=source.newline,
        text=text,
        document=plain,
        repo=repo,
        root_node=root,
        events=events,
    )


def _inspect_job(
    source: SourceFile,
    repo: RepoFacts,
    text: str,
    plain_workflow: dict[str, Any],
    job_key_node: Node,
    job_node: Node,
    parents: dict[int, int],
    workflow_defaults: dict[str, Any],
    indent_unit: int,
) -> JobFacts:
    job_id = str(job_key_node.value)
    line, col = node_position(job_key_node)
    job_plain = to_plain(job_node) if isinstance(job_node, MappingNode) else {}
    if not isinstance(job_plain, dict):
        job_plain = {}
    runs_on = job_plain.get("runs-on")
    if isinstance(runs_on, dict):
        runs_on = runs_on.get("labels") or runs_on.get("group")
    runs_on_list = [str(item) for item in runs_on] if isinstance(runs_on, list) else ([str(runs_on)] if runs_on else [])
    strategy = job_plain.get("strategy") if isinstance(job_plain.get("strategy"), dict) else {}
    matrix = strategy.get("matrix") if isinstance(strategy.get("matrix"), dict) else {}
    runs_on_list = _expandmatrix_values(runs_on_list, matrix)
    container = job_plain.get("container")
    container_image = container.get("image") if isinstance(container, dict) else container
    job_defaults = job_plain.get("defaults") if isinstance(job_plain.get("defaults"), dict) else {}
    run_defaults = job_defaults.get("run") if isinstance(job_defaults.get("run"), dict) else {}
    working_directory = run_defaults.get("working-directory") or workflow_defaults.get("working-directory")
    facts = JobFacts(
        job_id=job_id,
        line=line,
        col=col,
        name=str(job_plain.get("name")) if job_plain.get("name") is not None else None,
        reusable="uses" in job_plain,
        runs_on=runs_on_list,
        matrix=matrix,
        container_image=str(container_image) if container_image else None,
        working_directory=str(working_directory) if working_directory else None,
        go_reasons=[],
        caches=[],
        docker_builds=[],
        steps=[],
        editable=True,
        not_editable_reason="",
        indent_unit=indent_unit,
    )
    if facts.reusable:
        return facts
    if parents.get(id(job_node), 0) > 1:
        facts.editable = False
        facts.not_editable_reason = "the job is an alias or anchor shared with another place"
    steps_node = mapping_get(job_node, "steps")
    if steps_node is None:
        return facts
    if not isinstance(steps_node, SequenceNode):
        facts.editable = False
        facts.not_editable_reason = "`steps:` is not a sequence"
        return facts
    if steps_node.flow_style:
        facts.editable = False
        facts.not_editable_reason = "`steps:` is written in flow style ([...])"
    elif parents.get(id(steps_node), 0) > 1:
        facts.editable = False
        facts.not_editable_reason = "`steps:` is an alias or anchor shared with another place"
    steps_key = mapping_key_node(job_node, "steps")
    facts.steps_line_start = line_start(text, steps_key.start_mark.index) if steps_key else 0
    local_actions: dict[int, gouse.LocalAction] = {}
    for index, item in enumerate(steps_node.value):
        step = _inspect_step(text, index, item, parents)
        facts.steps.append(step)
        step.sets_up_go = step.action == SETUP_GO or step.action in gouse.SELF_CHECKOUT_ACTIONS
        step.checks_out = step.action == "actions/checkout" and _checks_out_this_repository(step)
        if step.uses and step.uses.startswith("./"):
            local = gouse.read_local_action(repo.root, step.uses)
            if local is not None:
                local_actions[index] = local
                step.sets_up_go = local.sets_up_go
    sets_up_go = any(step.sets_up_go for step in facts.steps)
    for index, step in enumerate(facts.steps[:-1]):
        following = facts.steps[index + 1]
        step.next_item_comment_start = leading_comment_start(
            text, following.item_line_start, following.dash_column
        )
    container_has_go = gouse.image_has_go(facts.container_image)
    envs = [plain_workflow.get("env"), job_plain.get("env")]
    for step in facts.steps:
        run = step.run or ""
        local = local_actions.get(step.index)
        if local is not None and (local.sets_up_go or local.runs_go):
            what = "sets up Go" if local.sets_up_go else "runs go"
            _add_reason(facts, f"uses local action {step.uses} ({local.path} {what})")
            # An action that also runs Go needs the caches before it, like any Go step.
            step.needs_go = local.runs_go
            if local.setup_go_caches and not facts.leave_alone_reason:
                facts.leave_alone_reason = (
                    f"the local action {step.uses} sets up Go with its own cache ({local.path}:{local.setup_go_line}); "
                    "set `cache: false` on its actions/setup-go step and run again"
                )
        if gouse.caches_go_itself(step.action, step.inputs):
            _add_reason(facts, f"uses {step.action}")
            step.needs_go = True
            if not facts.leave_alone_reason:
                facts.leave_alone_reason = (
                    f"step {index_label(step)} ({step.action}) caches Go's directories itself; "
                    "a second cache of the same directories would only cost time"
                )
        if step.action == SETUP_GO:
            _add_reason(facts, "uses actions/setup-go")
        if step.action == LINT_ACTION:
            _add_reason(facts, "uses golangci-lint-action")
            step.needs_go = True
        if step.action == "goreleaser/goreleaser-action":
            _add_reason(facts, "uses goreleaser-action")
            step.needs_go = True
        if step.action in GO_USING_ACTIONS:
            _add_reason(facts, f"uses {step.action}")
            step.needs_go = True
        if gouse.runs_go(run):
            _add_reason(facts, "runs go commands")
            step.needs_go = True
        elif run and gouse.scripts_running_go(repo.root, run, step.working_directory or facts.working_directory or ""):
            scripts = gouse.scripts_running_go(repo.root, run, step.working_directory or facts.working_directory or "")
            _add_reason(facts, f"runs {', '.join(scripts)}, which runs go")
            step.needs_go = True
        elif GO_TOOL_COMMAND.search(run) and (sets_up_go or container_has_go):
            _add_reason(facts, "runs Go tools in a job that sets up Go")
            step.needs_go = True
        elif MAKE_COMMAND.search(run) and (sets_up_go or container_has_go):
            _add_reason(facts, "runs make/task in a job that sets up Go")
            step.needs_go = True
        reason = gouse.step_publishing_reason(step.action, step.inputs, run, [*envs, step.env])
        if reason and reason not in facts.publishing_reasons:
            facts.publishing_reasons.append(reason)
        if step.action == "docker/build-push-action":
            facts.docker_builds.append(f"step {index_label(step)}: docker/build-push-action")
        elif re.search(r"\bdocker\s+(buildx\s+)?build\b", run):
            facts.docker_builds.append(f"step {index_label(step)}: docker build in a run script")
        _record_cache(facts, step, text)
    if container_has_go and facts.go_reasons:
        _add_reason(facts, f"runs in container {facts.container_image}")
    facts.already_patched = any(
        step.step_id == DIRS_STEP_ID or (step.action or "").endswith("/ci-gocache") for step in facts.steps
    )
    facts.shell = "sh" if facts.container_image else "bash"
    _resolve_modules(facts, repo, job_plain)
    _check_self_checkout_actions(facts)
    facts.vendored_reason = _vendored_reason(facts, repo, envs)
    return facts


def _checks_out_this_repository(step: StepFacts) -> bool:
    repository = str(step.inputs.get("repository") or "").strip()
    return repository in ("", "${{ github.repository }}")


def _check_self_checkout_actions(facts: JobFacts) -> None:
    """Actions such as govulncheck-action check out and set up Go (with its cache) inside.

    With a real checkout before them, their cache is turned off and ours goes after that
    checkout; with none, no key could hash the job's go.sum files: the job is left alone.
    """
    for step in facts.steps:
        if step.action not in gouse.SELF_CHECKOUT_ACTIONS:
            continue
        checkout_input, cache_input = gouse.SELF_CHECKOUT_ACTIONS[step.action]
        checked_out_before = any(other.checks_out for other in facts.steps[: step.index])
        if not checked_out_before:
            if not facts.leave_alone_reason:
                facts.leave_alone_reason = (
                    f"step {index_label(step)} ({step.action}) checks the repository out itself and caches with "
                    "setup-go inside; add an actions/checkout step before it (and "
                    f"`{checkout_input}: false`) to let ci-gocache cache this job"
                )
            continue
        facts.step_inputs.setdefault(step.index, {})[cache_input] = "false"


def _vendored_reason(facts: JobFacts, repo: RepoFacts, envs: list[Any]) -> str:
    """Why the job builds from vendor/ (and so needs no module cache), or ""."""
    texts = [str(env.get("GOFLAGS", "")) for env in envs if isinstance(env, dict)]
    texts += [step.run or "" for step in facts.steps if step.needs_go]
    texts += [str(step.env.get("GOFLAGS", "")) for step in facts.steps if isinstance(step.env, dict)]
    if any(re.search(r"-mod[= ]mod\b|-mod[= ]readonly\b", text) for text in texts):
        return ""
    if any(re.search(r"-mod[= ]vendor\b", text) for text in texts):
        return "builds with -mod=vendor"
    vendored = {module.directory for module in repo.modules if module.has_vendor}
    sums = [file.rsplit("/", 1)[0] if "/" in file else "" for file in facts.sum_files]
    if sums and all(directory in vendored for directory in sums):
        return "its modules are vendored (vendor/modules.txt)"
    return ""


def index_label(step: StepFacts) -> str:
    return f"{step.index + 1} (line {step.line})"


def _add_reason(facts: JobFacts, reason: str) -> None:
    if reason not in facts.go_reasons:
        facts.go_reasons.append(reason)


def _expandmatrix_values(values: list[str], matrix: dict[str, Any]) -> list[str]:
    expanded: list[str] = []
    for value in values:
        match = MATRIX_EXPRESSION.fullmatch(value.strip())
        if match:
            options = matrix_values(matrix, match.group(1))
            expanded.extend(str(option) for option in options) if options else expanded.append(value)
        else:
            expanded.append(value)
    return expanded


def _inspect_step(text: str, index: int, item: Node, parents: dict[int, int]) -> StepFacts:
    line, _ = node_position(item)
    plain = to_plain(item)
    if not isinstance(plain, dict):
        plain = {}
    uses = plain.get("uses")
    action, ref = _action_of(str(uses) if uses is not None else None)
    inputs = plain.get("with") if isinstance(plain.get("with"), dict) else {}
    run = plain.get("run")
    shared = parents.get(id(item), 0) > 1
    env = plain.get("env") if isinstance(plain.get("env"), dict) else {}
    step = StepFacts(
        index=index,
        line=line,
        step_id=str(plain["id"]) if plain.get("id") is not None else None,
        name=str(plain["name"]) if plain.get("name") is not None else None,
        uses=str(uses) if uses is not None else None,
        action=action,
        ref=ref,
        run=str(run) if run is not None else None,
        working_directory=str(plain["working-directory"]) if plain.get("working-directory") else None,
        inputs=inputs,
        needs_go=False,
        shared=shared,
        flow=bool(getattr(item, "flow_style", False)),
        item_line_start=line_start(text, item.start_mark.index),
        dash_column=_dash_column(text, item),
        key_column=item.start_mark.column,
        content_end=leaf_end(text, item) if not shared else 0,
        env=env,
        condition=str(plain["if"]) if plain.get("if") is not None else None,
        holds_shared_node=not shared and _holds_shared_node(item, parents),
    )
    if isinstance(item, MappingNode) and not shared:
        with_node = mapping_get(item, "with")
        with_key = mapping_key_node(item, "with")
        uses_node = mapping_get(item, "uses")
        if uses_node is not None and uses_node.start_mark.line == uses_node.end_mark.line:
            step.uses_line_end = line_end(text, uses_node.end_mark.index)
        if with_node is not None and with_key is not None:
            info: dict[str, Any] = {
                "flow": bool(getattr(with_node, "flow_style", False)),
                "mapping": isinstance(with_node, MappingNode),
                "shared": parents.get(id(with_node), 0) > 1,
                "value_start": with_node.start_mark.index,
                "key_column": with_key.start_mark.column,
                "keys": {},
            }
            if isinstance(with_node, MappingNode):
                info["empty"] = not with_node.value
                if with_node.value:
                    first_key = with_node.value[0][0]
                    info["child_column"] = first_key.start_mark.column
                    info["first_key_line_start"] = line_start(text, first_key.start_mark.index)
                for key_node, value_node in with_node.value:
                    if isinstance(key_node, ScalarNode):
                        info["keys"][key_node.value] = (
                            value_node.start_mark.index,
                            value_node.end_mark.index,
                            isinstance(value_node, ScalarNode),
                        )
            step.with_info = info
    return step


def _holds_shared_node(item: Node, parents: dict[int, int]) -> bool:
    pending = [item]
    while pending:
        node = pending.pop()
        if node is not item and parents.get(id(node), 0) > 1:
            return True
        if isinstance(node, MappingNode):
            for key, value in node.value:
                pending.extend((key, value))
        elif isinstance(node, SequenceNode):
            pending.extend(node.value)
    return False


def _record_cache(facts: JobFacts, step: StepFacts, text: str) -> None:
    if step.action == SETUP_GO:
        major = _major_version(step.ref) or _major_version(_pinned_version_comment(text, step.item_line_start))
        setting = step.inputs.get("cache")
        default_on = major is None or major >= 4
        enabled = (str(setting).lower() == "true") if setting is not None else default_on
        if enabled:
            facts.caches.append(
                CacheUse("setup-go", step.index, step.line, "setup-go's built-in cache"
                         + (" (on by default)" if setting is None else ""))
            )
    elif step.action in ("actions/cache", "actions/cache/restore", "actions/cache/save"):
        paths = [line.strip() for line in str(step.inputs.get("path", "")).splitlines() if line.strip()]
        go_paths = [path for path in paths if is_go_cache_path(path)]
        if go_paths:
            facts.caches.append(
                CacheUse(
                    step.action,
                    step.index,
                    step.line,
                    f"{step.action}@{step.ref} of {', '.join(paths)} keyed on {step.inputs.get('key', '?')}",
                    go_paths_only=len(go_paths) == len(paths),
                )
            )
    elif step.action == LINT_ACTION:
        major = _major_version(step.ref) or _major_version(_pinned_version_comment(text, step.item_line_start))
        if str(step.inputs.get("skip-cache", "")).lower() == "true":
            return
        if major is not None and 2 <= major <= 4:
            facts.caches.append(
                CacheUse("golangci-lint", step.index, step.line, "golangci-lint-action caches Go modules and build cache")
            )
        else:
            facts.caches.append(
                CacheUse("golangci-lint", step.index, step.line, "golangci-lint-action caches its own results only")
            )
    elif step.action and step.action.split("/")[-1] == "ci-gocache":
        facts.caches.append(CacheUse("ci-gocache", step.index, step.line, "ci-gocache action"))


# ---------------------------------------------------------------- module directories


def _resolve_modules(facts: JobFacts, repo: RepoFacts, job_plain: dict[str, Any]) -> None:
    """Which go.sum files this job builds, as hashFiles() arguments relative to the workspace."""
    checkout_prefix = ""
    checkouts = [step for step in facts.steps if step.action == "actions/checkout"]
    own_checkouts = [step for step in checkouts if not step.inputs.get("repository")]
    if len(own_checkouts) == 1 and own_checkouts[0].inputs.get("path"):
        checkout_prefix = keys._normal(str(own_checkouts[0].inputs["path"]))
    # A checkout path computed at run time (`path: ${{ ... }}`) cannot go into hashFiles():
    # every go.sum of the workspace is keyed instead.
    prefix_unknown = "${{" in checkout_prefix
    if prefix_unknown:
        checkout_prefix = ""

    def repo_relative(directory: str) -> str | None:
        if prefix_unknown:
            return None
        cleaned = keys._normal(directory.strip().removeprefix("./"))
        if cleaned.startswith("${{ github.workspace }}"):
            cleaned = keys._normal(cleaned[len("${{ github.workspace }}") :].lstrip("/"))
        if checkout_prefix:
            if cleaned == checkout_prefix or cleaned.startswith(checkout_prefix + "/"):
                cleaned = keys._normal(cleaned[len(checkout_prefix) :].lstrip("/"))
            else:
                return None
        if cleaned.startswith(("/", "..")) or cleaned.startswith("$"):
            return None
        return cleaned

    directories: list[str] = []
    dependency_globs: list[str] = []
    for step in facts.steps:
        candidates: list[str] = []
        if step.needs_go:
            base = step.working_directory or facts.working_directory or ""
            candidates.append(base)
            for target in script_directories(step.run or ""):
                candidates.append(f"{base}/{target}" if base and not target.startswith(("/", "$")) else target)
            if step.action == LINT_ACTION and step.inputs.get("working-directory"):
                candidates.append(str(step.inputs["working-directory"]))
        if step.action == SETUP_GO:
            value = step.inputs.get("go-version-file")
            if isinstance(value, str) and value.strip() and "\n" not in value.strip() and "*" not in value:
                candidates.append(value.strip().rsplit("/", 1)[0] if "/" in value else "")
            # cache-dependency-path is the user's own statement of what the job depends on.
            for entry in str(step.inputs.get("cache-dependency-path") or "").splitlines():
                entry = entry.strip()
                if not entry:
                    continue
                if any(char in entry for char in "*?["):
                    dependency_globs.append(entry)
                else:
                    candidates.append(entry.rsplit("/", 1)[0] if "/" in entry else "")
        for candidate in candidates:
            if candidate not in directories:
                directories.append(candidate)
    if not directories:
        directories.append(facts.working_directory or "")

    hash_arguments: list[str] = []
    sum_files: list[str] = []
    unknown = False
    for directory in directories:
        if MATRIX_EXPRESSION.search(directory) or EXPRESSION.search(directory):
            arguments, files = _matrix_directory_arguments(directory, facts.matrix, repo, repo_relative, checkout_prefix)
            if arguments is None:
                unknown = True
                continue
            hash_arguments.extend(argument for argument in arguments if argument not in hash_arguments)
            sum_files.extend(file for file in files if file not in sum_files)
            continue
        relative = repo_relative(directory)
        if relative is None:
            unknown = True
            continue
        for file in keys.sum_files_for_directories(repo.root, [relative]):
            if file not in sum_files:
                sum_files.append(file)
                hash_arguments.append(_quote(_workspace_path(checkout_prefix, file)))
    for pattern in dependency_globs:
        relative = repo_relative(pattern)
        if relative is None:
            unknown = True
            continue
        argument = _quote(_workspace_path(checkout_prefix, relative))
        if argument not in hash_arguments:
            hash_arguments.append(argument)
        sum_files.extend(file for file in keys.expand_sum_globs(repo.root, [relative]) if file not in sum_files)
    if not sum_files and not hash_arguments:
        unknown = True
    if unknown:
        # A directory the tool cannot name before the run (a loop over `find`, a variable):
        # every go.sum and go.work.sum, so that no module's dependency bump leaves the key as it was.
        hash_arguments = [_quote(_workspace_path(checkout_prefix, "**/go.sum")), _quote(_workspace_path(checkout_prefix, "**/go.work.sum"))]
        sum_files = keys.all_sum_files(repo.root)
    facts.module_directories = directories
    facts.sum_files = sorted(sum_files)
    facts.hash_arguments = hash_arguments
    roots = sorted({keys._normal(file.rpartition("/")[0]) for file in sum_files}, key=lambda path: path.split("/"))
    facts.module_roots = [_workspace_path(checkout_prefix, root) if root else (checkout_prefix or ".") for root in roots]


_DIRECTORY_COMMAND = re.compile(
    r"(?:^|[;&|(]|\bthen|\bdo|\belse)\s*(?:cd|pushd)\s+([^\s;&|)]+)"
    r"|(?:^|[\s;&|(`])go\s+-C(?:\s+|=)([^\s;&|)]+)",
    re.MULTILINE,
)
_FOR_LOOP = re.compile(r"\bfor\s+([A-Za-z_][A-Za-z0-9_]*)\s+in\s+([^;\n]*?)\s*(?:;|\n)\s*do\b")
# Go run in directories that only the run knows: `find ... -execdir go`, `xargs ... go`.
_RUNTIME_DIRECTORIES = re.compile(r"-execdir\s+(?:\S+/)?go\s|\bxargs\b[^\n|;]*\bgo\s")
_VARIABLE = re.compile(r"^\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?(.*)$")


def script_directories(run: str) -> list[str]:
    """The directories a script runs Go in: `cd dir`, `(cd dir && go ...)`, `pushd dir`, `go -C dir`,
    and loops over literal lists (`for d in a b; do (cd "$d" && go test ./...); done`).

    A directory computed at run time (`$(find ...)`, a glob, another variable) comes back as
    "$" so that the caller falls back to every go.sum.
    """
    loops: dict[str, list[str] | None] = {}
    for match in _FOR_LOOP.finditer(run):
        words = match.group(2).split()
        literal = all(not any(char in word for char in "$`*?[(") for word in words)
        loops[match.group(1)] = [word.strip("'\"") for word in words] if literal and words else None
    directories: list[str] = []
    if _RUNTIME_DIRECTORIES.search(run):
        directories.append("$")
    for match in _DIRECTORY_COMMAND.finditer(run):
        target = (match.group(1) or match.group(2) or "").strip("'\"")
        if not target or target == "-":
            continue
        variable = _VARIABLE.match(target)
        if variable:
            values = loops.get(variable.group(1))
            if values is None:
                directories.append("$")
                continue
            rest = variable.group(2).strip("'\"")
            directories.extend(value + rest for value in values)
        elif any(char in target for char in "$`*?["):
            directories.append("$")
        else:
            directories.append(target)
    return directories


def _workspace_path(prefix: str, relative: str) -> str:
    return f"{prefix}/{relative}" if prefix else relative


def _quote(literal: str) -> str:
    return "'" + literal.replace("'", "''") + "'"


def _matrix_directory_arguments(
    directory: str,
    matrix: dict[str, Any],
    repo: RepoFacts,
    repo_relative: Any,
    checkout_prefix: str,
) -> tuple[list[str] | None, list[str]]:
    """hashFiles arguments for a directory such as `services/${{ matrix.service }}`."""
    names = MATRIX_EXPRESSION.findall(directory)
    if len(names) != 1 or EXPRESSION.sub("", MATRIX_EXPRESSION.sub("", directory)) != MATRIX_EXPRESSION.sub("", directory):
        return None, []
    name = names[0]
    values = matrix_values(matrix, name)
    if not values or not all(isinstance(value, (str, int, float)) for value in values):
        return None, []
    template = MATRIX_EXPRESSION.sub("{0}", directory)
    files: list[str] = []
    every_value_has_go_sum = True
    for value in values:
        relative = repo_relative(template.replace("{0}", str(value)))
        if relative is None:
            return None, []
        found = keys.sum_files_for_directories(repo.root, [relative])
        own_sum = f"{relative}/go.sum" if relative else "go.sum"
        if found != [own_sum]:
            every_value_has_go_sum = False
        files.extend(found)
    if every_value_has_go_sum:
        relative_template = repo_relative(template.replace("{0}", "\x00"))
        if relative_template is None:
            return None, []
        pattern = _workspace_path(checkout_prefix, f"{relative_template}/go.sum" if relative_template else "go.sum")
        pattern = pattern.replace("{", "{{").replace("}", "}}").replace("\x00", "{0}")
        return [f"format({_quote(pattern)}, matrix.{name})"], files
    unique = sorted(set(files))
    return [_quote(_workspace_path(checkout_prefix, file)) for file in unique], unique


# ---------------------------------------------------------------- planning


@dataclass
class _Layout:
    dash_column: int
    key_column: int
    unit: int
    newline: str

    def step(self, entries: list[tuple[str, Any]]) -> list[str]:
        """Lines of one step; values are strings, or lists of strings for block scalars,
        or dicts for nested mappings."""
        lines: list[str] = []
        first = True
        for key, value in entries:
            prefix = " " * self.dash_column + "-" + " " * (self.key_column - self.dash_column - 1) if first else " " * self.key_column
            first = False
            lines.extend(self._entry(prefix, key, value, self.key_column))
        return lines

    def _entry(self, prefix: str, key: str, value: Any, column: int) -> list[str]:
        if isinstance(value, dict):
            lines = [f"{prefix}{key}:"]
            for child_key, child_value in value.items():
                lines.extend(self._entry(" " * (column + self.unit), child_key, child_value, column + self.unit))
            return lines
        if isinstance(value, list):
            lines = [f"{prefix}{key}: |"]
            lines.extend(" " * (column + self.unit) + item if item else "" for item in value)
            return lines
        return [f"{prefix}{key}: {value}"]


def _expression_parts(job: JobFacts, options: PatchOptions) -> keys.KeyParts:
    sums = "${{ hashFiles(" + ", ".join(job.hash_arguments) + ") }}"
    # Matrix values go in as the locate step's digest of toJSON(matrix): a value with a comma
    # or a long one would make the key invalid, and legs that differ only in values the key
    # did not name would share a build cache.
    scope = f"${{{{ steps.{DIRS_STEP_ID}.outputs.matrix }}}}" if job.matrix else ""
    return keys.KeyParts(
        prefix=options.key_prefix,
        os_name="${{ runner.os }}",
        arch="${{ runner.arch }}",
        sums_digest=sums,
        go_version=f"${{{{ steps.{DIRS_STEP_ID}.outputs.go-version }}}}",
        job="${{ github.job }}",
        scope=scope,
        run="${{ github.run_id }}-${{ github.run_attempt }}",
    )


def _locate_script(job: JobFacts) -> list[str]:
    """The locate step's shell: cache directories, a key-safe Go version, the matrix digest."""
    lines = [
        "{",
        '  echo "module-cache=$(go env GOMODCACHE)"',
        '  echo "build-cache=$(go env GOCACHE)"',
        f'  echo "go-version=$(go env GOVERSION | {keys.VERSION_SAFE_SHELL})"',
    ]
    if job.matrix:
        # keys.text_digest: the first 12 hex digits of sha256 over toJSON(matrix).
        lines += [
            "  if command -v sha256sum >/dev/null 2>&1; then",
            "    digest=$(printf '%s' \"$CI_GOCACHE_MATRIX\" | sha256sum)",
            "  else",
            "    digest=$(printf '%s' \"$CI_GOCACHE_MATRIX\" | shasum -a 256)",
            "  fi",
            "  printf 'matrix=%.12s\\n' \"$digest\"",
        ]
    return lines + ['} >> "$GITHUB_OUTPUT"']


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
            major = _major_version(step.ref) or _major_version(_pinned_version_comment(text, step.item_line_start))
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
    layout = _Layout(target.dash_column, target.key_column, job.indent_unit, newline)
    if options.style == "action" and job.container_image:
        # The action runs its key code with the job's Python; Go images have none.
        result.notices.append(
            Notice(facts.path, job.line, job.col, f"job {job.job_id!r} runs in container {job.container_image}, "
                   "which may have no Python for the ci-gocache action: wrote actions/cache steps instead")
        )
    if options.style == "action" and not job.container_image:
        # A replaced cache step's id stays when later steps read its outputs (the action has cache-hit too).
        step_id = ACTION_STEP_ID if module_step_id == MODULE_STEP_ID else module_step_id
        restore_lines, save_lines = _action_style_lines(job, options, layout, can_save, step_id)
    else:
        restore_lines, save_lines = _steps_style_lines(job, options, layout, module_step_id, can_save)
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


def _steps_style_lines(
    job: JobFacts, options: PatchOptions, layout: _Layout, module_step_id: str, can_save: bool
) -> tuple[list[list[str]], list[list[str]]]:
    parts = _expression_parts(job, options)
    dirs = f"steps.{DIRS_STEP_ID}.outputs"
    restore = pinned_uses("actions/cache/restore")
    save = pinned_uses("actions/cache/save")
    locate_entries: list[tuple[str, Any]] = [("name", "Locate Go caches"), ("id", DIRS_STEP_ID), ("shell", job.shell)]
    if job.matrix:
        locate_entries.append(("env", {"CI_GOCACHE_MATRIX": "${{ toJSON(matrix) }}"}))
    locate = layout.step(locate_entries + [("run", _locate_script(job))])
    module = layout.step(
        [
            ("name", "Restore Go module cache"),
            ("id", module_step_id),
            ("uses", restore),
            (
                "with",
                {
                    "path": f"${{{{ {dirs}.module-cache }}}}",
                    "key": keys.module_cache_key(parts),
                    "restore-keys": keys.module_restore_keys(parts),
                },
            ),
        ]
    )
    build = layout.step(
        [
            ("name", "Restore Go build cache"),
            ("id", BUILD_STEP_ID),
            ("uses", restore),
            (
                "with",
                {
                    "path": f"${{{{ {dirs}.build-cache }}}}",
                    "key": keys.build_cache_key(parts),
                    "restore-keys": keys.build_restore_keys(parts),
                },
            ),
        ]
    )
    saves: list[list[str]] = []
    condition = save_condition(options.save_on)
    module_save_condition = (
        f"${{{{ !cancelled() && steps.{module_step_id}.outputs.cache-hit != 'true'"
        f" && steps.{module_step_id}.outputs.cache-primary-key != '' && {condition} }}}}"
    )
    if can_save and condition and job.module_roots:
        saves.append(
            layout.step(
                [
                    ("name", "Complete the Go module cache"),
                    ("id", COMPLETE_MODULES_STEP_ID),
                    ("if", module_save_condition),
                    ("shell", job.shell),
                    (
                        "env",
                        {
                            "MODULE_CACHE": f"${{{{ {dirs}.module-cache }}}}",
                            "RESTORED_FROM": f"${{{{ steps.{module_step_id}.outputs.cache-matched-key }}}}",
                        },
                    ),
                    ("run", _complete_modules_script(job.module_roots)),
                ]
            )
        )
    if can_save and condition:
        saves.append(
            layout.step(
                [
                    ("name", "Save Go module cache"),
                    ("if", module_save_condition),
                    ("uses", save),
                    (
                        "with",
                        {
                            "path": f"${{{{ {dirs}.module-cache }}}}",
                            "key": f"${{{{ steps.{module_step_id}.outputs.cache-primary-key }}}}",
                        },
                    ),
                ]
            )
        )
        saves.append(
            layout.step(
                [
                    ("name", "Save Go build cache"),
                    (
                        "if",
                        f"${{{{ !cancelled() && steps.{BUILD_STEP_ID}.outputs.cache-primary-key != '' && {condition} }}}}",
                    ),
                    ("uses", save),
                    (
                        "with",
                        {
                            "path": f"${{{{ {dirs}.build-cache }}}}",
                            "key": f"${{{{ steps.{BUILD_STEP_ID}.outputs.cache-primary-key }}}}",
                        },
                    ),
                ]
            )
        )
    return [locate, module, build], saves


def _complete_modules_script(module_roots: list[str]) -> list[str]:
    """Shell that makes the module cache hold exactly the keyed go.sum files' modules.

    Whatever part of the modules this job used, the shared module key gets all of them; and
    the older module sets a restore through `...-gomod-` brought are left out: the restored
    cache moves aside and serves as a local GOPROXY (file://), so only what it lacks comes
    from the network. On Windows (no file:// path from bash) it only downloads. It never
    fails the job: on a failed download the restored cache goes back as it was.
    """
    quoted = " ".join(_shell_word(root) for root in module_roots)
    return [
        "older=",
        'if [ -n "$RESTORED_FROM" ] && [ "${RUNNER_OS:-}" != Windows ] && [ -d "$MODULE_CACHE" ]; then',
        '  older="${RUNNER_TEMP:-/tmp}/ci-gocache-restored-modules"',
        '  rm -rf "$older" && mv "$MODULE_CACHE" "$older" || older=',
        "fi",
        'proxy="$(go env GOPROXY)"',
        'if [ -n "$older" ]; then proxy="file://$older/cache/download,$proxy"; fi',
        "status=0",
        f"for module in {quoted}; do",
        '  (cd "$module" && GOPROXY="$proxy" GOFLAGS=-mod=mod go mod download) || status=1',
        "done",
        'if [ -n "$older" ]; then',
        '  chmod -R u+w "$older" "$MODULE_CACHE" 2>/dev/null || true',
        '  if [ "$status" != 0 ]; then rm -rf "$MODULE_CACHE" && mv "$older" "$MODULE_CACHE"; else rm -rf "$older"; fi',
        "fi",
        'if [ "$status" != 0 ]; then echo "::warning title=ci-gocache::go mod download failed; the module cache is saved as the job left it"; fi',
    ]


def _shell_word(text: str) -> str:
    return text if re.fullmatch(r"[A-Za-z0-9_./@+-]+", text) else "'" + text.replace("'", "'\\''") + "'"


def _action_style_lines(
    job: JobFacts, options: PatchOptions, layout: _Layout, can_save: bool, step_id: str = ACTION_STEP_ID
) -> tuple[list[list[str]], list[list[str]]]:
    """`uses:` lines for the ci-gocache action (see action.yml) instead of raw cache steps."""
    reference = f"{options.action_repository}@{options.action_ref}"
    if options.action_version:
        reference += f" # {options.action_version}"
    inputs: dict[str, Any] = {}
    modules = _action_modules(job)
    if modules:
        inputs["modules"] = modules
    inputs["key-prefix"] = options.key_prefix
    inputs["save"] = ACTION_SAVE_POLICIES[options.save_on] if can_save else "never"
    restore = layout.step([("name", "Restore Go caches"), ("id", step_id), ("uses", reference), ("with", inputs)])
    save_reference = f"{options.action_repository}/save@{options.action_ref}"
    if options.action_version:
        save_reference += f" # {options.action_version}"
    # Always there, also where nothing may be saved: the save action trims, writes the job
    # summary and the run record, and applies the save policy itself.
    save = layout.step(
        [("name", "Save Go caches"), ("id", SAVE_ACTION_STEP_ID), ("if", "${{ !cancelled() }}"), ("uses", save_reference)]
    )
    return [restore], [save]


def _action_modules(job: JobFacts) -> list[str]:
    """The action's `modules` input: the hashFiles arguments as paths, matrix values as expressions."""
    modules: list[str] = []
    for argument in job.hash_arguments:
        if len(argument) >= 2 and argument[0] == argument[-1] == "'":
            modules.append(argument[1:-1].replace("''", "'"))
            continue
        match = FORMAT_ARGUMENT.match(argument)
        if match:
            pattern = match.group(1).replace("''", "'").replace("{0}", "\x00").replace("{{", "{").replace("}}", "}")
            modules.append(pattern.replace("\x00", f"${{{{ matrix.{match.group(2)} }}}}"))
    return modules


# ---------------------------------------------------------------- verification


OUR_STEP_IDS = {DIRS_STEP_ID, MODULE_STEP_ID, BUILD_STEP_ID, COMPLETE_MODULES_STEP_ID, ACTION_STEP_ID, SAVE_ACTION_STEP_ID}
TOUCHED_INPUTS = {
    SETUP_GO: ("cache",),
    LINT_ACTION: ("skip-pkg-cache", "skip-build-cache"),
    **{action: (inputs[1],) for action, inputs in gouse.SELF_CHECKOUT_ACTIONS.items()},
}


def _normalised(document: dict[str, Any], drop: dict[str, set[int]], ours: bool) -> dict[str, Any]:
    """The workflow without the steps we add or replace and without the inputs we touch."""
    import copy

    result = copy.deepcopy(document)
    for job_id, job in (result.get("jobs") or {}).items():
        if not isinstance(job, dict) or not isinstance(job.get("steps"), list):
            continue
        kept = []
        for index, step in enumerate(job["steps"]):
            if not isinstance(step, dict):
                kept.append(step)
                continue
            if not ours and index in drop.get(job_id, set()):
                continue
            if ours and _is_our_step(step):
                continue
            if isinstance(step.get("run"), str):
                # A block scalar at the very end of a file without a final newline gains one
                # when steps are appended after it; a shell does not see the difference.
                step["run"] = step["run"].rstrip("\n")
            action, _ = _action_of(str(step.get("uses")) if step.get("uses") else None)
            if action in TOUCHED_INPUTS and isinstance(step.get("with"), dict):
                for name in TOUCHED_INPUTS[action]:
                    step["with"].pop(name, None)
                if not step["with"]:
                    step.pop("with")
            docker_steps.normalise_step(step, action)
            kept.append(step)
        job["steps"] = kept
    return result


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


# ---------------------------------------------------------------- description


def describe(facts: WorkflowFacts) -> dict[str, Any]:
    return {
        "path": facts.path,
        "kind": "github-workflow",
        "triggers": facts.triggers,
        "publishing": facts.publishing_reasons,
        "jobs": [
            {
                "id": job.job_id,
                "line": job.line,
                "name": job.name,
                "builds_go": job.is_go,
                "why": job.go_reasons,
                "reusable_workflow": job.reusable,
                "runs_on": job.runs_on,
                "matrix": list(job.matrix.keys()),
                "container": job.container_image,
                "working_directory": job.working_directory,
                "module_directories": job.module_directories if job.is_go else [],
                "go_sum_files": job.sum_files if job.is_go else [],
                "caches": [asdict(cache) for cache in job.caches],
                "docker_builds": job.docker_builds,
                "publishing": job.publishing_reasons,
                "ci_gocache": job.already_patched,
            }
            for job in facts.jobs
        ],
    }
