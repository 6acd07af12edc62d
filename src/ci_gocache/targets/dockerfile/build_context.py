"""How the repository's CI builds a Dockerfile (tool, file, context), and which module files that
context lets the patch copy before the source."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ci_gocache import keys
from ci_gocache.repo import RepoFacts
from ci_gocache.sourcefile import read_text_if_regular
from ci_gocache.targets.dockerfile.facts import BuildUse
from ci_gocache.targets.dockerfile.syntax import shell_words, unquote


@dataclass
class ModuleFiles:
    context: str | None  # repo-relative directory that COPY . . reads, None when it cannot be told
    copies: list[tuple[list[str], str]]  # (sources relative to the context, destination subdir)
    module_dir: str  # the module (or workspace) directory relative to the context, "" at its root
    vendored: bool
    problem: str = ""  # why the module files cannot be copied first, or ""


def module_files(root: Path, relative: str, builds: list[BuildUse]) -> ModuleFiles:
    """The build context and the module files to copy before the source.

    The context comes from the CI files that build this Dockerfile (`docker build -f x/Dockerfile .`,
    build-push-action `context:`). Without one, it is the nearest directory at or above the
    Dockerfile with go.mod or go.work, unless that is the Dockerfile's own directory below the
    repository root: `docker build x` and `docker build -f x/Dockerfile .` are equally likely
    there, and a COPY of a file missing from the context fails the build.
    """
    dockerfile_dir = PurePosixPath(relative).parent
    contexts = {build.context for build in builds if build.dockerfile == relative and build.context is not None}
    declared = None
    if len(contexts) > 1:
        where = ", ".join(sorted(f"{build.file}:{build.line}" for build in builds if build.dockerfile == relative))
        return ModuleFiles(None, [], "", False, f"CI builds it with different contexts ({where})")
    if contexts:
        declared = contexts.pop()
    top = PurePosixPath(declared) if declared else PurePosixPath(".")
    directory = dockerfile_dir
    if declared is not None and not _is_within(dockerfile_dir, top):
        directory = top
    while True:
        here = root / directory
        if (here / "go.work").is_file() or (here / "go.mod").is_file():
            break
        if str(directory) in ("", ".") or (declared is not None and directory == top):
            where = f"the build context {declared or '.'}" if declared is not None else "at or above the Dockerfile"
            return ModuleFiles(None, [], "", False, f"no go.mod was found {where}")
        directory = directory.parent
    module_dir = "" if str(directory) == "." else str(directory)
    if declared is None:
        if module_dir and directory == dockerfile_dir:
            return ModuleFiles(
                None, [], "", False,
                f"the build context is not known: the Dockerfile sits in the module directory {module_dir}, and no "
                "CI file here says whether it is built from there or from the repository root",
            )
        context = module_dir
    else:
        context = declared
    here = root / module_dir
    copies: list[tuple[list[str], str]] = []
    if (here / "go.work").is_file():
        workspace = ["go.work"] + (["go.work.sum"] if (here / "go.work.sum").is_file() else [])
        copies.append((workspace, ""))
        uses = keys.parse_go_work_uses(read_text_if_regular(here / "go.work") or "")
        for use in uses:
            use_dir = keys._normal(use)
            if use_dir.startswith("..") or not (here / use_dir / "go.mod").is_file():
                continue
            names = ["go.mod"] + (["go.sum"] if (here / use_dir / "go.sum").is_file() else [])
            prefix = "" if use_dir in ("", ".") else use_dir + "/"
            if prefix:
                copies.append(([prefix + name for name in names], prefix))
            else:
                copies[0][0].extend(names)
    else:
        copies.append((["go.mod"] + (["go.sum"] if (here / "go.sum").is_file() else []), ""))
    inner = str(PurePosixPath(module_dir).relative_to(PurePosixPath(context or "."))) if context != module_dir else ""
    inner = "" if inner == "." else inner
    if inner:
        copies = [([f"{inner}/{source}" for source in sources], f"{inner}/{subdir}") for sources, subdir in copies]
    vendored = (here / "vendor" / "modules.txt").is_file()
    return ModuleFiles(context, copies, inner, vendored)


def _is_within(path: PurePosixPath, directory: PurePosixPath) -> bool:
    return str(directory) in ("", ".") or path == directory or directory in path.parents


BUILD_COMMAND = re.compile(
    r"(?P<tool>docker\s+buildx\s+build|docker\s+(?:image\s+)?build|/kaniko/executor|\bexecutor\s+--|podman\s+build|buildah\s+(?:bud|build))\b(?P<args>[^\n;&|]*)"
)
DOCKER_VERSION = re.compile(r"\bdocker:(\d+)(?:\.\d+)*")
WORKSPACE_PREFIXES = ("$CI_PROJECT_DIR/", "${CI_PROJECT_DIR}/", "${{ github.workspace }}/", "$GITHUB_WORKSPACE/", "./")


def ci_builds(repo: RepoFacts) -> list[BuildUse]:
    """Image builds in the repository's CI files, with the Dockerfile each builds."""
    builds: list[BuildUse] = []
    for relative in [*repo.workflow_files, *repo.gitlab_files]:
        text = read_text_if_regular(repo.root / relative)
        if text is None:
            continue
        joined = re.sub(r"\\\r?\n\s*", " ", text)
        legacy = bool(re.search(r"DOCKER_BUILDKIT\s*[:=]\s*[\"']?0\b", text))
        forced = bool(re.search(r"DOCKER_BUILDKIT\s*[:=]\s*[\"']?1\b", text))
        # docker:stable stopped at Docker 19.03; before Engine 23 `docker build` is the legacy builder.
        old_engine = any(int(version) < 23 for version in DOCKER_VERSION.findall(text)) or bool(
            re.search(r"\bdocker:stable\b", text)
        )
        for match in BUILD_COMMAND.finditer(joined):
            line = _line_of(text, joined, match.start())
            tool_text = " ".join(match.group("tool").split())
            args = shell_words(match.group("args"))
            if tool_text.startswith("docker buildx"):
                tool = "buildx"
            elif tool_text.startswith("docker"):
                tool = "docker-build-legacy" if legacy or (old_engine and not forced) else "docker-build"
            elif "executor" in tool_text:
                tool = "kaniko"
            elif tool_text.startswith("podman"):
                tool = "podman"
            else:
                tool = "buildah"
            # GitLab jobs' builds get buildx and a registry cache (targets/gitlab/docker_jobs.py).
            imports_cache = any(word.startswith("--cache-from") for word in args) or (
                relative in repo.gitlab_files and tool in ("buildx", "docker-build")
            )
            dockerfile, context = _built_file(args, tool)
            builds.append(BuildUse(relative, line, tool, dockerfile, context, ephemeral=imports_cache))
        if relative in repo.workflow_files:
            checkouts = _checkout_paths(text)
            for match in re.finditer(r"['\"]?uses['\"]?:\s*['\"]?docker/build-push-action@", text):
                line = text.count("\n", 0, match.start()) + 1
                dockerfile, context = _action_file(text, match.end())
                builds.append(BuildUse(relative, line, "build-push-action", dockerfile, context, ephemeral=True))
            for build in builds:
                if build.file == relative:
                    build.dockerfile = _in_checkout(build.dockerfile, checkouts)
                    build.context = _in_checkout(build.context, checkouts)
    return builds


def _checkout_paths(text: str) -> list[str]:
    """The `path:` of actions/checkout steps: files there sit at `<path>/` in the workspace."""
    paths = []
    for match in re.finditer(r"['\"]?uses['\"]?:\s*['\"]?actions/checkout@", text):
        window = _step_window(text, match.end())
        found = re.search(r"^\s+['\"]?path['\"]?:\s*['\"]?([\w./-]+)", window, re.MULTILINE)
        if found and found.group(1).strip("./"):
            paths.append(keys._normal(found.group(1).removeprefix("./")))
    return paths


def _in_checkout(path: str | None, checkouts: list[str]) -> str | None:
    for checkout in checkouts:
        if path == checkout:
            return ""
        if path is not None and path.startswith(checkout + "/"):
            return path[len(checkout) + 1 :]
    return path


def _step_window(text: str, offset: int) -> str:
    window = text[offset : offset + 2000]
    next_step = re.search(r"\n\s*-\s+['\"]?\w", window)
    return window[: next_step.start()] if next_step else window


def _line_of(text: str, joined: str, offset: int) -> int:
    """Line in the original text of an offset in the continuation-joined text."""
    marker = joined[offset : offset + 40]
    found = text.find(marker)
    return text.count("\n", 0, found) + 1 if found >= 0 else 1


def _strip_workspace(path: str) -> str | None:
    cleaned = unquote(path)
    changed = True
    while changed:
        changed = False
        for prefix in WORKSPACE_PREFIXES:
            if cleaned.startswith(prefix):
                cleaned = cleaned[len(prefix) :]
                changed = True
    if cleaned in ("$CI_PROJECT_DIR", "${CI_PROJECT_DIR}", "${{ github.workspace }}", "$GITHUB_WORKSPACE"):
        cleaned = "."
    if "$" in cleaned or cleaned.startswith("/"):
        return None
    return keys._normal(cleaned) if cleaned not in ("", ".") else ""


def _built_file(args: list[str], tool: str) -> tuple[str | None, str | None]:
    """The Dockerfile a build command builds and its context, both repo-relative (None if unknown)."""
    file_flags = ("--dockerfile",) if tool == "kaniko" else ("-f", "--file")
    context_flags = ("--context",) if tool == "kaniko" else ()
    dockerfile = None
    context = None
    positional: list[str] = []
    skip_next = False
    for position, word in enumerate(args):
        if skip_next:
            skip_next = False
            continue
        name, sep, value = word.partition("=")
        if name in file_flags or name in context_flags:
            if not sep:
                value = args[position + 1] if position + 1 < len(args) else ""
                skip_next = True
            if name in file_flags:
                dockerfile = value
            else:
                context = value.removeprefix("dir://")
            continue
        if word.startswith("-"):
            if not sep and word in ("-t", "--tag", "--build-arg", "--target", "--platform", "--label", "--cache-from", "--cache-to", "--secret", "--ssh", "--destination", "--builder", "-o", "--output"):
                skip_next = True
            continue
        positional.append(word)
    if context is None:
        context = positional[-1] if positional else "."
    context_path = _strip_workspace(context) if "://" not in context and context != "-" else None
    if dockerfile is None:
        if context_path is None:
            return None, None
        return (f"{context_path}/Dockerfile" if context_path else "Dockerfile"), context_path
    file_path = _strip_workspace(dockerfile)
    if file_path is None:
        return None, context_path
    if tool == "kaniko" and context_path:
        return keys._normal(f"{context_path}/{file_path}"), context_path
    return file_path, context_path


def _action_file(text: str, offset: int) -> tuple[str | None, str | None]:
    """`file:` (or `context:` + /Dockerfile) of the build-push-action step starting near offset."""
    window = _step_window(text, offset)
    file_match = re.search(r"^\s+['\"]?file['\"]?:\s*['\"]?([^'\"\n#]+)", window, re.MULTILINE)
    context_match = re.search(r"^\s+['\"]?context['\"]?:\s*['\"]?([^'\"\n#]+)", window, re.MULTILINE)
    # Without `context:`, build-push-action builds the Git context of the commit: the repository root.
    context_text = context_match.group(1).strip() if context_match else "."
    context = None if "${{" in context_text or "://" in context_text else _strip_workspace(context_text)
    if file_match:
        return _strip_workspace(file_match.group(1).strip()), context
    if context is None:
        return None, None
    return (f"{context}/Dockerfile" if context else "Dockerfile"), context
