"""The edits a Dockerfile gets: cache mounts on its Go RUNs, a download step before `COPY . .` and the
syntax line, decided from the facts (plan() is pure)."""

from __future__ import annotations

import re

from ci_gocache.errors import Notice
from ci_gocache.targets.base import FilePlan, JobOutcome, PatchOptions
from ci_gocache.targets.dockerfile.facts import DockerfileFacts, RunFacts, StageFacts
from ci_gocache.targets.dockerfile.inspection import copy_destination, variable_pairs
from ci_gocache.targets.dockerfile.syntax import Instruction, unquote
from ci_gocache.textedit import Edit


SYNTAX_LINE = "# syntax=docker/dockerfile:1"
# Front ends that predate RUN --mount outside the experimental channel.
OLD_SYNTAX = re.compile(r"(^|/)dockerfile:1\.[01](\.\d+)?$")
PLATFORM_ARGS = {"TARGETOS", "TARGETARCH", "TARGETPLATFORM", "TARGETVARIANT", "BUILDPLATFORM", "BUILDOS", "BUILDARCH", "BUILDVARIANT"}


def plan(facts: DockerfileFacts, options: PatchOptions) -> FilePlan:
    result = FilePlan()
    text = facts.text
    newline = facts.newline
    escape = facts.syntax.escape
    kaniko = next((build for build in facts.builds if build.tool == "kaniko"), None)
    legacy = next((build for build in facts.builds if build.tool == "docker-build-legacy"), None)
    syntax_value = facts.syntax.directives.get("syntax", ("", 0))[0]
    mounts_allowed = True
    if kaniko is not None:
        mounts_allowed = False
        result.notices.append(
            Notice(facts.path, 1, 1, f"built with kaniko ({kaniko.file}:{kaniko.line}), which does not run BuildKit cache mounts; no cache mounts added")
        )
    elif legacy is not None:
        mounts_allowed = False
        result.notices.append(
            Notice(facts.path, 1, 1, f"built without BuildKit ({legacy.file}:{legacy.line}: DOCKER_BUILDKIT=0 or a Docker Engine older than 23), where RUN --mount fails; no cache mounts added")
        )
    elif syntax_value and OLD_SYNTAX.search(syntax_value):
        mounts_allowed = False
        line = facts.syntax.directives["syntax"][1]
        result.notices.append(
            Notice(facts.path, line, 1, f"the syntax directive pins {syntax_value}, which has no RUN --mount; change it to docker/dockerfile:1 and run again")
        )
    added_mounts = False
    moved: set[int] = set()
    layer = facts.modules_in_layer
    download_added: set[int] = set()  # stages that get a download step before COPY . .
    for stage in facts.stages:
        if not stage.is_go:
            continue
        reasons: list[str] = []
        order_edits, moved_index = _plan_copy_order(facts, stage, mounts_allowed, reasons, result)
        if moved_index is not None:
            moved.add(moved_index)
        if order_edits:
            download_added.add(stage.number)
        if layer:
            _mark_downloaded_by_the_patch(facts, stage, download_added)
            _notice_module_mounts_that_hide_the_layer(facts, stage, result)
        if order_edits:
            result.edits.extend(order_edits)
            added_mounts = added_mounts or (mounts_allowed and any("--mount=type=cache" in edit.replacement for edit in order_edits))
        for run in stage.go_runs:
            if run.index in moved:
                continue
            if run.problem:
                result.notices.append(
                    Notice(facts.path, run.instruction.line, run.instruction.col, f"no cache mounts added: {run.problem}")
                )
                continue
            missing = run.missing_mounts(layer)
            if not missing or not mounts_allowed:
                continue
            result.edits.append(_mount_edit(text, run, missing, escape, newline))
            reasons.append(f"cache mounts on line {run.instruction.line}")
            added_mounts = True
        if reasons:
            result.jobs.append(JobOutcome(f"stage {stage.label}", facts.syntax.instructions[stage.first].line, "patched", "; ".join(reasons)))
        else:
            result.jobs.append(JobOutcome(f"stage {stage.label}", facts.syntax.instructions[stage.first].line, "already-cached"))
    if added_mounts and "syntax" not in facts.syntax.directives and not _uses_mounts(facts):
        result.edits.append(Edit(0, 0, SYNTAX_LINE + newline, "syntax directive for RUN --mount"))
    return result


def _mark_downloaded_by_the_patch(facts: DockerfileFacts, stage: StageFacts, download_added: set[int]) -> None:
    """The RUNs that will read the modules from the download step the patch puts before
    `COPY . .` (in this stage, or in a parent stage)."""
    lineage: list[StageFacts] = []
    current: StageFacts | None = stage
    while current is not None and current not in lineage:
        lineage.append(current)
        current = facts.stages[current.base_stage] if current.base_stage is not None else None
    for run in stage.go_runs:
        if stage.number in download_added and stage.source_copy is not None and run.index > stage.source_copy:
            run.after_download = True
        elif any(ancestor.number in download_added for ancestor in lineage[1:]):
            run.after_download = True


def _notice_module_mounts_that_hide_the_layer(facts: DockerfileFacts, stage: StageFacts, result: FilePlan) -> None:
    for run in stage.go_runs:
        if not (run.downloads or run.after_download) or not run.module_cache:
            continue
        if any(mount.type == "cache" and mount.target.rstrip("/") == run.module_cache for mount in run.mounts):
            result.notices.append(
                Notice(
                    facts.path, run.instruction.line, run.instruction.col,
                    f"the cache mount on {run.module_cache} keeps the modules out of the image layers, and CI builds "
                    "this file on a fresh builder where cache mounts start empty (they are never exported to a "
                    "registry or gha cache), so every CI build downloads all modules again; remove that mount",
                )
            )


def _uses_mounts(facts: DockerfileFacts) -> bool:
    return any(instruction.flag_values("mount") for instruction in facts.syntax.instructions if instruction.keyword == "RUN")


def _keyword(facts: DockerfileFacts, word: str) -> str:
    return word if facts.upper_case else word.lower()


def _mount_flags(run: RunFacts, targets: list[str]) -> list[str]:
    owner = f",{run.owner}" if run.owner else ""
    return [f"--mount=type=cache,target={target}{owner}" for target in targets]


def _mount_edit(text: str, run: RunFacts, missing: list[str], escape: str, newline: str) -> Edit:
    instruction = run.instruction
    position = instruction.keyword_end
    while position < len(text) and text[position] in " \t":
        position += 1
    indent = instruction.continuation_indent or "    "
    flags = _mount_flags(run, missing)
    rest_of_line = text[position : text.find("\n", position) if "\n" in text[position:] else len(text)].rstrip("\r")
    if rest_of_line.strip() == escape:
        replacement = f" {escape}{newline}{indent}".join(flags) + " "
    else:
        replacement = "".join(f"{flag} {escape}{newline}{indent}" for flag in flags)
    if position == instruction.keyword_end:
        replacement = " " + replacement
    return Edit(position, position, replacement, f"cache mounts for line {instruction.line}")


def _plan_copy_order(
    facts: DockerfileFacts, stage: StageFacts, mounts_allowed: bool, reasons: list[str], result: FilePlan
) -> tuple[list[Edit], int | None]:
    """Edits that copy the module files and download modules before `COPY . .`."""
    if stage.source_copy is None or stage.modules_first:
        return [], None
    instructions = facts.syntax.instructions
    source_copy = instructions[stage.source_copy]
    later = [run for run in stage.go_runs if run.index > stage.source_copy]
    if not later:
        return [], None
    where = f"{facts.path}"
    if facts.vendored:
        return [], None
    if facts.context_dir is None or not facts.module_copies:
        why = facts.context_problem or "no go.mod was found at or above the Dockerfile"
        result.notices.append(
            Notice(where, source_copy.line, source_copy.col, f"COPY . . comes before go mod download, but {why}; copy go.mod and go.sum first yourself")
        )
        return [], None
    first_go = later[0]
    between = instructions[stage.source_copy + 1 : first_go.index]
    blocking = [item for item in between if item.keyword in ("ENV", "USER", "WORKDIR", "SHELL") or (item.keyword == "ARG" and not _platform_arg(item, facts.syntax.escape))]
    if blocking:
        item = blocking[0]
        result.notices.append(
            Notice(where, source_copy.line, source_copy.col, f"COPY . . comes before go mod download, but {item.keyword} on line {item.line} sits between them; move the download step yourself")
        )
        return [], None
    escape = facts.syntax.escape
    newline = facts.newline
    destination = unquote(copy_destination(source_copy, escape))
    base = "./" if destination in (".", "./") else destination.rstrip("/") + "/"
    owner_flags = [f"--{name}={value}" for name in ("chown", "chmod") for value in source_copy.flag_values(name)]
    copy_word = _keyword(facts, "COPY")
    run_word = _keyword(facts, "RUN")
    lines: list[str] = []
    for sources, subdir in facts.module_copies:
        parts = [copy_word, *owner_flags, *sources, base + subdir]
        lines.append(" ".join(parts))
    edits: list[Edit] = []
    moved_index: int | None = None
    # A download RUN right after COPY . . moves up as it is; it runs where go.mod then is.
    download_run = first_go if first_go.download_only and first_go.downloads and not facts.module_dir else None
    insert_at = _insertion_point(facts, stage)
    if download_run is not None:
        instruction = download_run.instruction
        original = facts.text[instruction.start : instruction.end]
        if not original.endswith("\n"):
            original += newline
        missing = download_run.missing_mounts(facts.modules_in_layer)
        if mounts_allowed and not download_run.problem and missing:
            mount_edit = _mount_edit(facts.text, download_run, missing, escape, newline)
            relative = mount_edit.start - instruction.start
            original = original[:relative] + mount_edit.replacement + original[relative:]
        comment_start = instruction.comment_start
        edits.append(Edit(comment_start, instruction.end, "", f"move the download step on line {instruction.line}"))
        block = "".join(line + newline for line in lines) + facts.text[comment_start : instruction.start] + original
        moved_index = download_run.index
        reasons.append(f"go.mod copied and the download step on line {instruction.line} moved before COPY . . (line {source_copy.line})")
    else:
        private = next((run.private_mounts for run in later if run.private_mounts), [])
        flags: list[str] = []
        if mounts_allowed and not first_go.problem and not facts.modules_in_layer:
            flags.extend(_mount_flags(first_go, [first_go.module_cache] if first_go.module_cache else []))
        flags.extend(f"--mount={mount.raw}" for mount in private)
        text_flags = f" {escape}{newline}    ".join(flags)
        command = f"cd {base}{facts.module_dir} && go mod download" if facts.module_dir else "go mod download"
        download = run_word + " " + (text_flags + f" {escape}{newline}    " if flags else "") + command
        block = "".join(line + newline for line in lines) + download + newline
        reasons.append(f"go.mod copied and modules downloaded before COPY . . (line {source_copy.line})")
    edits.append(Edit(insert_at, insert_at, block, f"download step before line {source_copy.line}"))
    return edits, moved_index


def _platform_arg(instruction: Instruction, escape: str) -> bool:
    names = [name for name, _ in variable_pairs(instruction, escape)]
    return bool(names) and all(name in PLATFORM_ARGS for name in names)


def _insertion_point(facts: DockerfileFacts, stage: StageFacts) -> int:
    """Before `COPY . .`, and before the platform ARGs right above it, so the download step
    stays the same for every target platform."""
    instructions = facts.syntax.instructions
    index = stage.source_copy
    assert index is not None
    while index - 1 > stage.first:
        previous = instructions[index - 1]
        if previous.keyword == "ARG" and _platform_arg(previous, facts.syntax.escape):
            index -= 1
            continue
        break
    return instructions[index].comment_start
