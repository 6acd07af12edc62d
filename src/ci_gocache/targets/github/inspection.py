"""Reading a GitHub workflow into WorkflowFacts: its jobs, their steps (positions included), which
of them use Go, the caches they already have and what they publish. It edits nothing."""

from __future__ import annotations

import re
from typing import Any

from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from ci_gocache.errors import InputError
from ci_gocache.gocommands import GO_TOOL_COMMAND, MAKE_COMMAND
from ci_gocache.gopaths import is_go_cache_path
from ci_gocache.repo import RepoFacts
from ci_gocache.sourcefile import (
    NodeGraph,
    SourceFile,
    check_keys_are_names,
    compose_graphs,
    mapping_get,
    mapping_key_node,
    node_position,
    to_plain,
)
from ci_gocache.targets.github import gouse, triggers
from ci_gocache.targets.github.cache_steps import DIRS_STEP_ID
from ci_gocache.targets.github.facts import (
    GO_USING_ACTIONS,
    LINT_ACTION,
    MATRIX_EXPRESSION,
    SETUP_GO,
    CacheUse,
    JobFacts,
    StepFacts,
    WorkflowFacts,
    matrix_values,
)
from ci_gocache.targets.github.module_directories import resolve_modules
from ci_gocache.textedit import leading_comment_start, line_end, line_start
from ci_gocache.yamlnodes import leaf_end


def _display(node: Node | None) -> str | None:
    if node is None:
        return None
    value = to_plain(node)
    return None if value is None else str(value)


def action_of(uses: str | None) -> tuple[str | None, str | None]:
    if not uses or uses.startswith(("./", "docker://")):
        return None, None
    path, _, ref = uses.partition("@")
    return path.lower(), ref or None


def major_version(ref: str | None) -> int | None:
    # A full commit SHA can start with digits; only a tag such as v4, v4.2 or 4.2.1 names a version.
    match = re.fullmatch(r"v?(\d+)(?:\.\d+)*", ref or "")
    return int(match.group(1)) if match else None


def pinned_version_comment(text: str, line_start_offset: int) -> str | None:
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


def _document(source: SourceFile) -> NodeGraph:
    documents = compose_graphs(source)
    if len(documents) != 1:
        raise InputError(
            source.display_path,
            1,
            1,
            f"expected one YAML document, found {len(documents)}; a workflow is a single document",
        )
    graph = documents[0]
    if not isinstance(graph.root, MappingNode):
        line, col = node_position(graph.root)
        raise InputError(
            source.display_path, line, col, "the top level is not a mapping; a workflow starts with `on:` and `jobs:`"
        )
    return graph


def inspect(source: SourceFile, repo: RepoFacts) -> WorkflowFacts:
    graph = _document(source)
    root = graph.root
    check_keys_are_names(graph, source.display_path)
    # Jobs and steps read their plain values from the document's, converted once.
    plain_values: dict[int, Any] = {}
    plain = to_plain(root, memo=plain_values)
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
    # Only nodes with more than one parent (anchored and aliased) matter; without any, no
    # step needs a walk to find one.
    parents = graph.shared
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
                source, repo, text, plain, job_key_node, job_node, parents, workflow_defaults, indent_unit, plain_values
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
    plain_values: dict[int, Any],
) -> JobFacts:
    job_id = str(job_key_node.value)
    line, col = node_position(job_key_node)
    job_plain = to_plain(job_node, memo=plain_values) if isinstance(job_node, MappingNode) else {}
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
        step = _inspect_step(text, index, item, parents, plain_values)
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
        elif DOCKER_BUILD_COMMAND.search(run):
            facts.docker_builds.append(f"step {index_label(step)}: docker build in a run script")
        _record_cache(facts, step, text)
    if container_has_go and facts.go_reasons:
        _add_reason(facts, f"runs in container {facts.container_image}")
    facts.already_patched = any(
        step.step_id == DIRS_STEP_ID or (step.action or "").endswith("/ci-gocache") for step in facts.steps
    )
    facts.shell = "sh" if facts.container_image else "bash"
    resolve_modules(facts, repo, job_plain)
    _check_self_checkout_actions(facts)
    facts.vendored_reason = _vendored_reason(facts, repo, envs)
    return facts


DOCKER_BUILD_COMMAND = re.compile(r"\bdocker\s+(buildx\s+)?build\b")
MODULE_MODE_NOT_VENDOR = re.compile(r"-mod[= ]mod\b|-mod[= ]readonly\b")
MODULE_MODE_VENDOR = re.compile(r"-mod[= ]vendor\b")


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
    if any(MODULE_MODE_NOT_VENDOR.search(text) for text in texts):
        return ""
    if any(MODULE_MODE_VENDOR.search(text) for text in texts):
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


def _inspect_step(text: str, index: int, item: Node, parents: dict[int, int], plain_values: dict[int, Any]) -> StepFacts:
    line = item.start_mark.line + 1
    plain = plain_values[id(item)] if id(item) in plain_values else to_plain(item, memo=plain_values)
    if not isinstance(plain, dict):
        plain = {}
    get = plain.get
    uses = get("uses")
    action, ref = action_of(str(uses) if uses is not None else None)
    inputs = get("with")
    run = get("run")
    shared = parents.get(id(item), 0) > 1 if parents else False
    env = get("env")
    step = StepFacts(
        index=index,
        line=line,
        step_id=str(plain["id"]) if get("id") is not None else None,
        name=str(plain["name"]) if get("name") is not None else None,
        uses=str(uses) if uses is not None else None,
        action=action,
        ref=ref,
        run=str(run) if run is not None else None,
        working_directory=str(plain["working-directory"]) if get("working-directory") else None,
        inputs=inputs if isinstance(inputs, dict) else {},
        needs_go=False,
        shared=shared,
        flow=bool(getattr(item, "flow_style", False)),
        item_line_start=line_start(text, item.start_mark.index),
        dash_column=_dash_column(text, item),
        key_column=item.start_mark.column,
        content_end=leaf_end(text, item) if not shared else 0,
        env=env if isinstance(env, dict) else {},
        condition=str(plain["if"]) if get("if") is not None else None,
        holds_shared_node=not shared and _holds_shared_node(item, parents),
    )
    if isinstance(item, MappingNode) and not shared:
        # One pass for `with:` and `uses:` (keys are unique: duplicates were refused).
        with_key = with_node = None
        for key_node, value_node in item.value:
            if isinstance(key_node, ScalarNode):
                if key_node.value == "with":
                    with_key, with_node = key_node, value_node
                elif key_node.value == "uses" and value_node.start_mark.line == value_node.end_mark.line:
                    step.uses_line_end = line_end(text, value_node.end_mark.index)
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
    if not parents:
        return False
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
        major = major_version(step.ref) or major_version(pinned_version_comment(text, step.item_line_start))
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
        major = major_version(step.ref) or major_version(pinned_version_comment(text, step.item_line_start))
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
