"""docker/build-push-action steps in GitHub workflows: buildx layer caches and, opt-in, cache mounts.

For every build-push-action step without cache-from/cache-to (Go job or not):

- a step that pushes to a registry gets `cache-from: type=registry,ref=<image>:buildcache` and a
  `cache-to` (mode=max, image manifest, OCI media types) that is an expression: empty on pull
  requests and on every event the save policy does not save on, and tied to the step's own
  `push:` expression when it has one;
- a step that does not push gets `type=gha` with a scope per workflow and job (and matrix entry);
- the job gets docker/setup-buildx-action before its first build step when it has none: the
  default docker driver cannot export caches;
- with `--cache-mounts-dance`, reproducible-containers/buildkit-cache-dance carries the
  Dockerfile's `RUN --mount=type=cache` directories between runs through actions/cache, its
  cache map taken from the Dockerfile as ci-gocache patches it.

The planner only returns Edits; github.plan() adds them, github.verify() checks the result.
"""

from __future__ import annotations

import json
import re
from pathlib import Path, PurePosixPath
from typing import Any

from ci_gocache import keys
from ci_gocache.errors import Notice
from ci_gocache.pins import pinned_uses
from ci_gocache.targets.base import FilePlan, JobOutcome, PatchOptions
from ci_gocache.targets.github.facts import JobFacts, StepFacts, WorkflowFacts, matrix_key_parts
from ci_gocache.targets.github.steps import save_condition, set_step_inputs
from ci_gocache.textedit import Edit, leading_comment_start


BUILD_PUSH = "docker/build-push-action"
SETUP_BUILDX = "docker/setup-buildx-action"
METADATA = "docker/metadata-action"
BUILDX_STEP_ID = "ci-gocache-buildx"  # a setup-buildx step we add
EXISTING_BUILDX_ID = "docker-buildx"  # the id we give a setup-buildx step that has none
MOUNTS_CACHE_STEP_ID = "ci-gocache-docker-mounts"
DANCE_STEP_ID = "ci-gocache-docker-dance"
EXTRACT_STEP_ID = "ci-gocache-docker-extract"
SAVE_STEP_ID = "ci-gocache-docker-save"
UTILITY_IMAGE = "ghcr.io/containerd/busybox:latest"  # the image buildkit-cache-dance uses too
OUR_STEP_IDS = {BUILDX_STEP_ID, MOUNTS_CACHE_STEP_ID, DANCE_STEP_ID, EXTRACT_STEP_ID, SAVE_STEP_ID}
OUR_INPUTS = ("cache-from", "cache-to")
# ignore-error: a registry or cache service that refuses the write never fails the build.
REGISTRY_CACHE_OPTIONS = "mode=max,image-manifest=true,oci-mediatypes=true,ignore-error=true"
PR_EVENTS = "github.event_name != 'pull_request' && github.event_name != 'pull_request_target'"
HOST_CACHE_ROOT = "${{ runner.temp }}/ci-gocache-docker"


def plan_docker_steps(facts: WorkflowFacts, options: PatchOptions, result: FilePlan) -> None:
    """Add the edits for every build-push-action step to `result`.

    They go first in the list: an insertion at the same offset as a Go cache step (the end of
    a job) must come before it, so inputs added to a last step stay in that step.
    """
    edits: list[Edit] = []
    for job in facts.jobs:
        if job.reusable:
            continue
        edits.extend(_plan_job(facts, job, options, result))
    result.edits[:0] = edits


def _plan_job(facts: WorkflowFacts, job: JobFacts, options: PatchOptions, result: FilePlan) -> list[Edit]:
    builds = [step for step in job.steps if step.action == BUILD_PUSH]
    if not builds:
        return []
    if not job.editable:
        _notice(result, facts, job.line, f"job {job.job_id!r}: docker build steps left unchanged: {job.not_editable_reason}")
        return []
    edits: list[Edit] = []
    text = facts.text
    newline = facts.newline
    buildx_steps = [step for step in job.steps if step.action == SETUP_BUILDX]
    patched: list[str] = []
    added_buildx = False
    for step in builds:
        if step.shared or step.flow:
            _notice(result, facts, step.line, f"job {job.job_id!r}: build-push-action step at line {step.line} is an alias or flow mapping; add its cache-from/cache-to yourself")
            continue
        if any(name in step.inputs for name in OUR_INPUTS):
            continue
        info = step.with_info
        if info and (info.get("flow") or info.get("shared") or not info.get("mapping") or info.get("empty")):
            _notice(result, facts, step.line, f"job {job.job_id!r}: the `with:` of the build-push-action step at line {step.line} cannot be edited safely; add cache-from/cache-to yourself")
            continue
        earlier_buildx = [buildx for buildx in buildx_steps if buildx.index < step.index]
        if any(str(buildx.inputs.get("driver", "")).strip() == "docker" for buildx in earlier_buildx):
            _notice(result, facts, step.line, f"job {job.job_id!r}: setup-buildx-action uses the docker driver, which cannot export caches; use the default docker-container driver")
            continue
        values, how = _cache_inputs(facts, job, step, builds, options)

        step_edits = set_step_inputs(text, newline, job, step, values)
        if step_edits is None:
            _notice(result, facts, step.line, f"job {job.job_id!r}: cannot add cache-from/cache-to to the step at line {step.line}")
            continue
        edits.extend(step_edits)
        insert_at = leading_comment_start(text, step.item_line_start, step.dash_column)
        new_steps: list[list[str]] = []
        builder_expression = None
        if earlier_buildx:
            buildx = earlier_buildx[-1]
            if options.cache_mounts_dance:
                if buildx.step_id is None:
                    id_edit = _add_id(text, newline, buildx, EXISTING_BUILDX_ID)
                    if id_edit is None:
                        _notice(result, facts, buildx.line, f"job {job.job_id!r}: give the setup-buildx-action step at line {buildx.line} an `id:` so the cache dance can find its builder")
                    else:
                        edits.append(id_edit)
                        buildx.step_id = EXISTING_BUILDX_ID
                if buildx.step_id is not None:
                    builder_expression = f"${{{{ steps.{buildx.step_id}.outputs.name }}}}"
        elif not added_buildx:
            new_steps.append(_step(step, [("name", "Set up Docker Buildx"), ("id", BUILDX_STEP_ID), ("uses", pinned_uses(SETUP_BUILDX))], job.indent_unit))
            added_buildx = True
            builder_expression = f"${{{{ steps.{BUILDX_STEP_ID}.outputs.name }}}}"
        else:
            builder_expression = f"${{{{ steps.{BUILDX_STEP_ID}.outputs.name }}}}"
        if step.inputs.get("builder"):
            builder_expression = str(step.inputs["builder"])
        if options.cache_mounts_dance and builds.index(step) == 0:
            before, after = _dance_steps(facts, job, step, options, builder_expression, result)
            new_steps.extend(before)
            if before:
                how += "; cache mounts carried by buildkit-cache-dance"
            if after:
                last = builds[-1]
                text_after = "".join("".join(line + newline for line in lines) for lines in after)
                prefix = "" if text[last.content_end - 1] == "\n" else newline
                if last.content_end == len(text) and not text.endswith("\n"):
                    text_after = text_after[: -len(newline)]
                edits.append(Edit(last.content_end, last.content_end, prefix + text_after, "save docker cache mounts"))
        if new_steps:
            block = "".join("".join(line + newline for line in lines) for lines in new_steps)
            edits.append(Edit(insert_at, insert_at, block, f"docker steps before line {step.line}"))
        patched.append(f"step at line {step.line}: {how}")
    if patched:
        result.jobs.append(JobOutcome(job.job_id, job.line, "patched", "docker: " + "; ".join(patched)))
    return edits


def _notice(result: FilePlan, facts: WorkflowFacts, line: int, message: str) -> None:
    result.notices.append(Notice(facts.path, line, 1, message))


# ---------------------------------------------------------------- cache inputs


def _cache_inputs(
    facts: WorkflowFacts, job: JobFacts, step: StepFacts, builds: list[StepFacts], options: PatchOptions
) -> tuple[dict[str, str], str]:

    # Release, tag and pull_request_target workflows read caches but never write them.
    condition = None if facts.publishing_reasons else save_condition(options.save_on)
    push = _push_condition(step)
    image = _image(job, step)
    if push is not None and image is not None:
        reference = f"type=registry,ref={image}:{_cache_tag(step)}"
        values = {"cache-from": reference}
        if condition is not None:
            guard = condition if push == "true" else f"({push}) && {condition}"
            values["cache-to"] = _guarded(guard, f"{reference},{REGISTRY_CACHE_OPTIONS}")
        return values, f"registry cache {image}:{_cache_tag(step)}"
    scope, scope_arguments = _gha_scope(facts, job, step, builds)
    values = {"cache-from": f"type=gha,scope={_scope_text(scope, scope_arguments)}"}
    if condition is not None:
        values["cache-to"] = _guarded(condition, f"type=gha,mode=max,ignore-error=true,scope={scope}", scope_arguments)
    return values, "GitHub Actions cache (type=gha)"


def _cache_tag(step: StepFacts) -> str:
    """`buildcache`, or `buildcache-<file>-<target>` for a step that builds another Dockerfile or a
    target: one cache per image, so steps that push to the same repository never overwrite each other."""
    parts = []
    file_input = str(step.inputs.get("file") or "").strip()
    target = str(step.inputs.get("target") or "").strip()
    if file_input and keys._normal(file_input.removeprefix("./")) != "Dockerfile":
        parts.append(file_input)
    if target:
        parts.append(target)
    if not parts or any("${{" in part for part in parts):
        return "buildcache" if not parts else "buildcache-" + _expression_free_key(parts)
    key = re.sub(r"[^A-Za-z0-9_.-]+", "-", "-".join(parts)).strip("-.")
    return f"buildcache-{key}"[:128]


def _expression_free_key(parts: list[str]) -> str:
    """A tag part for inputs that hold expressions: the expressions stay, the rest is made tag-safe."""
    pieces = re.split(r"(\$\{\{.*?\}\})", "-".join(parts))
    return "".join(piece if piece.startswith("${{") else re.sub(r"[^A-Za-z0-9_.-]+", "-", piece) for piece in pieces)


def _guarded(condition: str, value: str, arguments: list[str] | None = None) -> str:
    """`${{ condition && 'value' || '' }}`; expressions inside `value` become format() arguments,
    since `${{ }}` does not nest."""
    arguments = list(arguments or [])
    pattern = value if arguments else value.replace("{", "{{").replace("}", "}}")
    if not arguments and "${{" in value:
        pieces = re.split(r"(\$\{\{.*?\}\})", value)
        pattern = ""
        for piece in pieces:
            inner = re.fullmatch(r"\$\{\{\s*(.*?)\s*\}\}", piece)
            if inner:
                pattern += "{" + str(len(arguments)) + "}"
                arguments.append(inner.group(1))
            else:
                pattern += piece.replace("{", "{{").replace("}", "}}")
    literal = "'" + pattern.replace("'", "''") + "'"
    if arguments:
        literal = f"format({literal}, {', '.join(arguments)})"
    else:
        literal = "'" + value.replace("'", "''") + "'"
    return f"${{{{ {condition} && {literal} || '' }}}}"


def _scope_text(scope: str, arguments: list[str]) -> str:
    for position, argument in enumerate(arguments):
        scope = scope.replace("{" + str(position) + "}", f"${{{{ {argument} }}}}")
    return scope


def _push_condition(step: StepFacts) -> str | None:
    """'true' when the step always pushes, the expression when it pushes on a condition."""
    push = step.inputs.get("push")
    text = str(push).strip() if push is not None else ""
    if text.lower() == "true":
        return "true"
    match = re.fullmatch(r"\$\{\{\s*(.*?)\s*\}\}", text, re.DOTALL)
    if match:
        return match.group(1)
    outputs = str(step.inputs.get("outputs") or "")
    if "type=registry" in outputs or ("type=image" in outputs and "push=true" in outputs):
        return "true"
    return None


def _image(job: JobFacts, step: StepFacts) -> str | None:
    """The image repository of the step's first tag, or of the metadata-action its tags come from."""
    tags = str(step.inputs.get("tags") or "")
    first = _first_entry(tags)
    if first is None:
        return None
    reference = re.fullmatch(r"\$\{\{\s*steps\.([A-Za-z0-9_-]+)\.outputs\.tags\s*\}\}", first)
    if reference:
        meta = next((other for other in job.steps if other.step_id == reference.group(1) and other.action == METADATA), None)
        if meta is None:
            return None
        image = _first_entry(str(meta.inputs.get("images") or ""))
        if image is None:
            return None
        image = image.split(",")[0].removeprefix("name=").strip()
        return image or None
    if first.startswith("${{") and first.endswith("}}") and first.count("${{") == 1:
        return None
    return _repository_of(first)


def _first_entry(value: str) -> str | None:
    """The first item of a list input (newline- or comma-separated, as docker/* actions read them)."""
    for line in value.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        masked = re.sub(r"\$\{\{.*?\}\}", lambda match: "x" * len(match.group(0)), line)
        comma = masked.find(",")
        if comma >= 0:
            line = line[:comma].strip()
        return line or None
    return None


def _repository_of(tag: str) -> str | None:
    """`ghcr.io/a/b:tag` -> `ghcr.io/a/b`; a colon inside `${{ }}` is not a tag separator."""
    masked = re.sub(r"\$\{\{.*?\}\}", lambda match: "x" * len(match.group(0)), tag)
    digest = masked.find("@")
    if digest >= 0:
        tag, masked = tag[:digest], masked[:digest]
    slash = masked.rfind("/")
    colon = masked.rfind(":")
    if colon > slash:
        tag = tag[:colon]
    return tag or None


def _gha_scope(facts: WorkflowFacts, job: JobFacts, step: StepFacts, builds: list[StepFacts]) -> tuple[str, list[str]]:

    stem = PurePosixPath(facts.path).name.rsplit(".", 1)[0]
    parts = [keys.key_safe(stem), keys.key_safe(job.job_id)]
    if len(builds) > 1:
        parts.append(keys.key_safe(step.step_id) if step.step_id else str(builds.index(step) + 1))
    arguments = []
    for part in matrix_key_parts(job.matrix):
        inner = re.fullmatch(r"\$\{\{\s*(.*?)\s*\}\}", part)
        if inner:
            parts.append("{" + str(len(arguments)) + "}")
            arguments.append(inner.group(1))
    return "-".join(parts), arguments


# ---------------------------------------------------------------- text


def _step(anchor: StepFacts, entries: list[tuple[str, Any]], unit: int) -> list[str]:
    """Lines of a step laid out like `anchor` (its dash and key columns)."""
    lines: list[str] = []
    for position, (key, value) in enumerate(entries):
        if position == 0:
            prefix = " " * anchor.dash_column + "-" + " " * (anchor.key_column - anchor.dash_column - 1)
        else:
            prefix = " " * anchor.key_column
        lines.extend(_entry(prefix, key, value, anchor.key_column, unit))
    return lines


def _entry(prefix: str, key: str, value: Any, column: int, unit: int) -> list[str]:
    if isinstance(value, dict):
        lines = [f"{prefix}{key}:"]
        for child_key, child_value in value.items():
            lines.extend(_entry(" " * (column + unit), child_key, child_value, column + unit, unit))
        return lines
    if isinstance(value, list):
        return [f"{prefix}{key}: |", *(" " * (column + unit) + item if item else "" for item in value)]
    return [f"{prefix}{key}: {value}"]


def _add_id(text: str, newline: str, step: StepFacts, step_id: str) -> Edit | None:
    """An `id:` line right after the step's one-line `uses:`."""
    if not step.uses_line_end or step.flow or step.shared:
        return None
    position = step.uses_line_end
    line = " " * step.key_column + f"id: {step_id}"
    if text[position - 1] != "\n":
        return Edit(position, position, newline + line, "id for setup-buildx")
    return Edit(position, position, line + newline, "id for setup-buildx")


# ---------------------------------------------------------------- cache dance


def _dance_steps(
    facts: WorkflowFacts,
    job: JobFacts,
    step: StepFacts,
    options: PatchOptions,
    builder_expression: str | None,
    result: FilePlan,
) -> list[list[str]]:

    if builder_expression is None:
        return [], []
    repo = facts.repo
    root = repo.root if repo is not None else Path(facts.path).parent
    dockerfile = _dockerfile_of(step)
    if dockerfile is None or not (root / dockerfile).is_file():
        _notice(result, facts, step.line, f"job {job.job_id!r}: no cache dance: the Dockerfile of the step at line {step.line} ({dockerfile or 'computed at run time'}) is not in the repository")
        return [], []
    # The Dockerfile target answers this; the patching pipeline hands its reader over through the repo facts.
    read_mounts = repo.dockerfile_cache_mounts if repo is not None else None
    mounts = read_mounts(root / dockerfile, repo) if read_mounts is not None else None
    if not mounts:
        _notice(result, facts, step.line, f"job {job.job_id!r}: no cache dance: {dockerfile} has no RUN --mount=type=cache")
        return [], []
    cache_map: dict[str, Any] = {}
    for mount in mounts:
        host = f"{HOST_CACHE_ROOT}/{keys.key_safe(mount['id'].strip('/').replace('/', '-'))}"
        extra = {key: value for key, value in mount.items() if key not in ("target",) and not (key == "id" and value == mount["target"])}
        cache_map[host] = mount["target"] if not extra else {"target": mount["target"], **extra}
    # Only workflows that run on releases, tags or pull_request_target never save (as for Go
    # caches); an image push from the default branch does save, after the build.
    publishing = bool(facts.publishing_reasons)
    condition = save_condition(options.save_on)
    saving = condition is not None and not publishing

    scope = "-".join([keys.key_safe(job.job_id), *matrix_key_parts(job.matrix)])
    key_base = f"{options.key_prefix}-${{{{ runner.os }}}}-${{{{ runner.arch }}}}-docker-{scope}-"
    sums = "${{ hashFiles('**/go.sum', '**/go.work.sum') }}"
    cache_step = _step(
        step,
        [
            ("name", "Restore Docker cache mounts"),
            ("id", MOUNTS_CACHE_STEP_ID),
            ("uses", pinned_uses("actions/cache/restore")),
            (
                "with",
                {
                    "path": list(cache_map.keys()),
                    "key": f"{key_base}{sums}-${{{{ github.run_id }}}}-${{{{ github.run_attempt }}}}",
                    "restore-keys": [f"{key_base}{sums}-", key_base],
                },
            ),
        ],
        job.indent_unit,
    )
    map_lines = json.dumps(cache_map, indent=2).splitlines()
    # The dance only injects: its own extraction runs in a post step, after any step that
    # could save, so the extraction below runs before an explicit, policy-gated save.
    dance_step = _step(
        step,
        [
            ("name", "Inject Docker cache mounts"),
            ("id", DANCE_STEP_ID),
            ("uses", pinned_uses("reproducible-containers/buildkit-cache-dance")),
            ("with", {"builder": builder_expression, "cache-map": map_lines, "skip-extraction": "true"}),
        ],
        job.indent_unit,
    )
    after: list[list[str]] = []
    if saving:
        guard = f"${{{{ !cancelled() && steps.{MOUNTS_CACHE_STEP_ID}.outputs.cache-primary-key != '' && {condition} }}}}"
        script = [
            'work="$RUNNER_TEMP/ci-gocache-docker-extract"',
            "extract() {",
            '  rm -rf "$work" && mkdir -p "$work"',
            "  printf 'FROM %s AS copy\\nARG CI_GOCACHE_STAMP\\nRUN --mount=type=cache,%s mkdir -p /out && cp -p -R %s/. /out/\\nFROM scratch\\nCOPY --from=copy /out /\\n' \\",
            '    "$UTILITY_IMAGE" "$2" "$3" > "$work/Dockerfile"',
            '  rm -rf "$1"',
            # --no-cache would also give the RUN fresh, empty cache mounts; a new ARG value
            # re-runs the copy instead.
            '  docker buildx build --builder "$BUILDER" --build-arg "CI_GOCACHE_STAMP=$(date +%s%N)" \\',
            '    --output "type=local,dest=$1" "$work"',
            "}",
        ]
        for host, value in cache_map.items():
            target = value if isinstance(value, str) else value["target"]
            options_text = f"target={target}" if isinstance(value, str) else ",".join(f"{key}={item}" for key, item in value.items())
            script.append(f'extract "{host.replace(HOST_CACHE_ROOT, "$RUNNER_TEMP/ci-gocache-docker")}" "{options_text}" "{target}"')
        after.append(
            _step(
                step,
                [
                    ("name", "Extract Docker cache mounts"),
                    ("id", EXTRACT_STEP_ID),
                    ("if", guard),
                    ("shell", "bash"),
                    ("env", {"BUILDER": builder_expression, "UTILITY_IMAGE": UTILITY_IMAGE}),
                    ("run", script),
                ],
                job.indent_unit,
            )
        )
        after.append(
            _step(
                step,
                [
                    ("name", "Save Docker cache mounts"),
                    ("id", SAVE_STEP_ID),
                    ("if", guard),
                    ("uses", pinned_uses("actions/cache/save")),
                    (
                        "with",
                        {
                            "path": list(cache_map.keys()),
                            "key": f"${{{{ steps.{MOUNTS_CACHE_STEP_ID}.outputs.cache-primary-key }}}}",
                        },
                    ),
                ],
                job.indent_unit,
            )
        )
    return [cache_step, dance_step], after


def _dockerfile_of(step: StepFacts) -> str | None:
    file_input = step.inputs.get("file")
    context = str(step.inputs.get("context") or ".").strip()
    if "${{" in context or "://" in context:
        return None
    if file_input:
        text = str(file_input).strip()
        if "${{" in text:
            return None
        return keys._normal(text.removeprefix("./"))
    context = keys._normal(context.removeprefix("./")) if context not in (".", "./") else ""
    return f"{context}/Dockerfile" if context else "Dockerfile"


# ---------------------------------------------------------------- verification hooks


def is_our_step(step: dict[str, Any]) -> bool:
    return step.get("id") in OUR_STEP_IDS


def normalise_step(step: dict[str, Any], action: str | None) -> None:
    """Drop what we add to steps we keep: cache inputs of build-push-action, the setup-buildx id."""
    if action == BUILD_PUSH and isinstance(step.get("with"), dict):
        for name in OUR_INPUTS:
            step["with"].pop(name, None)
        if not step["with"]:
            step.pop("with")
    if action == SETUP_BUILDX and step.get("id") == EXISTING_BUILDX_ID:
        step.pop("id")

