"""Dockerfiles: Go build stages get BuildKit cache mounts and a download step before the source.

inspect() reads the file into DockerfileFacts: stages, their environment as each RUN sees it
(ENV, ARG, USER), the Go RUNs with the cache mount targets they need, the copy order, and how
the repository's CI builds the file (inspection.py, build_context.py). plan() turns those facts
into Edits (planning.py); verify() parses the patched text again and checks that nothing but our
mounts, our COPY/RUN download step and the syntax line changed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ci_gocache.errors import InputError
from ci_gocache.repo import DOCKERFILE_NAME, RepoFacts
from ci_gocache.sourcefile import SourceFile
from ci_gocache.targets.base import PatchOptions

# The target interface (targets/base.py): reading in inspection.py and build_context.py, planning
# in planning.py; claims, verification and description here.
from ci_gocache.targets.dockerfile.facts import DockerfileFacts, StageFacts
from ci_gocache.targets.dockerfile.inspection import copy_sources, download_only, inspect, variable_pairs
from ci_gocache.targets.dockerfile.planning import plan
from ci_gocache.targets.dockerfile.syntax import DockerfileSyntax, parse_dockerfile, parse_mount
from ci_gocache.textedit import apply_edits

__all__ = ["NAME", "claims", "describe", "findings", "inspect", "plan", "verify", "cache_mounts_after_patch"]

NAME = "dockerfile"

NOT_DOCKERFILE_SUFFIXES = (
    ".dockerignore", ".md", ".txt", ".rst", ".orig", ".bak", ".swp", ".tmp", ".json", ".yml", ".yaml", ".sh",
)


def claims(relative_path: str) -> bool:
    name = relative_path.replace("\\", "/").rsplit("/", 1)[-1]
    if not DOCKERFILE_NAME.match(name):
        return False
    lowered = name.lower()
    return not (lowered.endswith(NOT_DOCKERFILE_SUFFIXES) and not lowered.endswith(".dockerfile"))


# ---------------------------------------------------------------- verification


def verify(source: SourceFile, facts: DockerfileFacts, new_text: str, options: PatchOptions) -> None:
    try:
        patched = parse_dockerfile(new_text, source.display_path)
    except InputError as error:
        raise InputError(source.display_path, error.line, error.col, f"internal error, the patch would break the file: {error.message}") from None
    original = _normalised(facts.syntax, facts)
    result = _normalised(patched, facts)
    if original[0] != result[0] or not original[1] <= result[1]:
        raise InputError(source.display_path, 1, 1, "internal error: the patch changed more than cache mounts and the download step; nothing was written")


def _normalised(syntax: DockerfileSyntax, facts: DockerfileFacts) -> tuple[list[tuple[str, str]], set[str]]:
    """Instructions without our cache mounts, module-file COPYs and download-only RUNs, and the
    set of download-only RUNs apart."""
    ours = {target for stage in facts.stages for run in stage.go_runs for target in (run.module_cache, run.build_cache) if target}
    kept: list[tuple[str, str]] = []
    downloads: set[str] = set()
    module_names = {name for sources, _ in facts.module_copies for name in sources}
    for instruction in syntax.instructions:
        flags = []
        for flag in instruction.flags:
            if flag.startswith("--mount="):
                options = parse_mount(flag[len("--mount=") :])
                if options.get("type") == "cache" and options.get("target", "").rstrip("/") in ours:
                    continue
            flags.append(flag)
        args = " ".join(instruction.args.split())
        if instruction.keyword == "COPY" and not instruction.flag_values("from"):
            sources = copy_sources(instruction, syntax.escape)
            if sources and all(source in module_names for source in sources):
                continue
        if instruction.keyword == "RUN" and not instruction.heredocs and download_only(instruction.args.strip()):
            downloads.add(" ".join(sorted(flag for flag in flags)) + " " + args)
            continue
        heredocs = "".join(doc.body for doc in instruction.heredocs)
        kept.append((instruction.keyword, " ".join(flags) + " " + args + heredocs))
    return kept, downloads


# ---------------------------------------------------------------- description


def findings(facts: DockerfileFacts) -> list[str]:
    notes: list[str] = []
    instructions = facts.syntax.instructions
    for stage in facts.stages:
        if not stage.is_go:
            continue
        label = f"stage {stage.label}"
        if stage.source_copy is not None and not stage.modules_first and any(run.index > stage.source_copy for run in stage.go_runs):
            line = instructions[stage.source_copy].line
            first_go = next(run for run in stage.go_runs if run.index > stage.source_copy)
            notes.append(
                f"line {line}: {label}: COPY . . comes before go mod download (first Go RUN on line {first_go.instruction.line}); "
                "every source change downloads all modules again: copy go.mod and go.sum and run go mod download first"
            )
        download = next((run for run in stage.go_runs if run.downloads), None)
        if download is not None:
            for item in instructions[stage.first + 1 : download.index]:
                if item.keyword == "ARG" and any(name in ("TARGETOS", "TARGETARCH", "TARGETPLATFORM") for name, _ in variable_pairs(item, facts.syntax.escape)):
                    notes.append(
                        f"line {item.line}: {label}: ARG {' '.join(item.args.split())} is declared before go mod download "
                        f"(line {download.instruction.line}), so the download runs again for every target platform; declare it after"
                    )
                    break
        for run in stage.go_runs:
            if run.problem:
                notes.append(f"line {run.instruction.line}: {label}: cannot tell the Go cache directories: {run.problem}")
                continue
            missing = run.missing_mounts(facts.modules_in_layer)
            if missing:
                notes.append(
                    f"line {run.instruction.line}: {label}: RUN without a cache mount for "
                    + " and ".join(missing)
                    + " (the Go module and build caches start empty on every build)"
                )
        for name, value, line in stage.settings:
            notes.append(f"line {line}: {label}: {name}={value}")
        private = _private_module_settings(stage)
        has_private_mount = any(run.private_mounts for run in stage.go_runs)
        if private and not has_private_mount:
            notes.append(
                f"line {instructions[stage.first].line}: {label}: private modules ({private}) but no Go RUN has "
                "--mount=type=ssh or --mount=type=secret; go mod download cannot authenticate "
                "(use RUN --mount=type=ssh with `docker build --ssh default`, or a secret mount for a .netrc)"
            )
    for build in facts.builds:
        if build.tool == "docker-build-legacy":
            notes.append(f"built without BuildKit at {build.file}:{build.line} (DOCKER_BUILDKIT=0 or a Docker Engine older than 23): RUN --mount and registry caches need BuildKit; use docker buildx build")
        elif build.tool == "kaniko":
            notes.append(f"built with kaniko at {build.file}:{build.line}, not BuildKit: cache mounts are not run and buildx registry caches are not available")
        elif build.tool in ("podman", "buildah"):
            notes.append(f"built with {build.tool} at {build.file}:{build.line}, not BuildKit: buildx registry cache export is not available")
        elif build.tool == "docker-build":
            notes.append(f"built with `docker build` at {build.file}:{build.line}: BuildKit is the default only from Docker Engine 23, and the docker driver cannot export caches; use docker buildx build")
    return notes


def _private_module_settings(stage: StageFacts) -> str:
    values = [f"{name}={value}" for name, value, _ in stage.settings if name in ("GOPRIVATE", "GONOPROXY", "GONOSUMDB") and value]
    return ", ".join(values)


def describe(facts: DockerfileFacts) -> dict[str, Any]:
    instructions = facts.syntax.instructions
    return {
        "path": facts.path,
        "kind": "dockerfile",
        "syntax": facts.syntax.directives.get("syntax", ("", 0))[0] or None,
        "context": facts.context_dir,
        "modules_in_layer": facts.modules_in_layer,
        "stages": [
            {
                "name": stage.name,
                "line": instructions[stage.first].line,
                "base": stage.base,
                "builds_go": stage.is_go,
                "go_runs": [
                    {
                        "line": run.instruction.line,
                        "module_cache": run.module_cache,
                        "build_cache": run.build_cache,
                        "mounts": [{"type": mount.type, "target": mount.target} for mount in run.mounts],
                        "missing_mounts": run.missing_mounts(facts.modules_in_layer),
                    }
                    for run in stage.go_runs
                ],
                "go_settings": {name: value for name, value, _ in stage.settings},
            }
            for stage in facts.stages
        ],
        "builds": [{"file": build.file, "line": build.line, "tool": build.tool} for build in facts.builds],
        "findings": findings(facts),
    }


def cache_mounts_after_patch(path: Path, repo: RepoFacts) -> list[dict[str, str]] | None:
    """The cache mounts (target, id, uid, gid) a Dockerfile has once patched, or None if unreadable."""
    from ci_gocache.sourcefile import SourceFile as _Source
    from ci_gocache.sourcefile import read_source

    try:
        source = read_source(path, str(path))
        facts = inspect(source, repo)
        new_text = apply_edits(source.text, plan(facts, PatchOptions()).edits)
        patched = inspect(_Source(source.path, source.display_path, new_text, source.has_bom, source.newline, source.mode), repo)
    except InputError:
        return None
    mounts: dict[str, dict[str, str]] = {}
    for instruction in patched.syntax.instructions:
        if instruction.keyword != "RUN":
            continue
        for raw in instruction.flag_values("mount"):
            options = parse_mount(raw)
            if options.get("type") != "cache" or not options.get("target"):
                continue
            entry = {"target": options["target"], "id": options.get("id") or options["target"]}
            for key in ("uid", "gid"):
                if options.get(key):
                    entry[key] = options[key]
            mounts.setdefault(entry["id"], entry)
    return list(mounts.values())
