"""Dockerfiles: Go build stages get BuildKit cache mounts and a download step before the source.

inspect() reads the file into DockerfileFacts: stages, their environment as each RUN sees it
(ENV, ARG, USER), the Go RUNs with the cache mount targets they need, the copy order, and how
the repository's CI builds the file. plan() turns those facts into Edits; verify() parses the
patched text again and checks that nothing but our mounts, our COPY/RUN download step and the
syntax line changed.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from ci_gocache import keys
from ci_gocache.targets.dockerfile.syntax import (
    DockerfileSyntax,
    Instruction,
    parse_dockerfile,
    parse_mount,
    shell_words,
    unquote,
)
from ci_gocache.errors import InputError, Notice
from ci_gocache.repo import DOCKERFILE_NAME, RepoFacts
from ci_gocache.sourcefile import SourceFile, read_text_if_regular
from ci_gocache.targets.base import FilePlan, JobOutcome, PatchOptions
from ci_gocache.textedit import Edit, apply_edits

NAME = "dockerfile"

NOT_DOCKERFILE_SUFFIXES = (
    ".dockerignore", ".md", ".txt", ".rst", ".orig", ".bak", ".swp", ".tmp", ".json", ".yml", ".yaml", ".sh",
)
SYNTAX_LINE = "# syntax=docker/dockerfile:1"
# Front ends that predate RUN --mount outside the experimental channel.
OLD_SYNTAX = re.compile(r"(^|/)dockerfile:1\.[01](\.\d+)?$")

GO_SUBCOMMANDS = "build|test|install|generate|run|vet|get|list|mod|tool|work"
GO_RUN = re.compile(rf"(?:^|[\s;&|(`]|\$\()(?:[\w./-]*/)?go\s+(?:-C\s+\S+\s+)?(?:{GO_SUBCOMMANDS})\b", re.MULTILINE)
MAKE_RUN = re.compile(r"(?:^|[\s;&|(])(?:make|mage|task|just)(?:\s|$)", re.MULTILINE)
PACKAGE_INSTALL = re.compile(r"\b(apt-get|apt|apk|yum|dnf|microdnf|zypper)\b")
# The parts of a RUN that only fetch or check modules: it compiles nothing, so it needs no build cache.
MODULE_STEP = re.compile(r"^go\s+mod\s+(?:download|verify)(?:\s+[^\s;&|<>`$()]+)*$")
HARMLESS_STEP = re.compile(r"^(?:(?:echo|printf|cd|set|true|:)(?:\s+[^;&|<>`$()]*)?)$")
GO_MOD_DOWNLOAD = re.compile(r"\bgo\s+mod\s+download\b")
GOLANG_IMAGE = re.compile(r"(^|/)golang(:|@|$)")
# Red Hat's UBI go-toolset images run as uid 1001 with HOME=/opt/app-root/src.
GO_TOOLSET_IMAGE = re.compile(r"(^|/)go-toolset(:|@|$)")
GO_TOOLSET_HOME = "/opt/app-root/src"
GO_TOOLSET_UID = "1001"
PLATFORM_ARGS = {"TARGETOS", "TARGETARCH", "TARGETPLATFORM", "TARGETVARIANT", "BUILDPLATFORM", "BUILDOS", "BUILDARCH", "BUILDVARIANT"}
GO_SETTINGS = ("GOPROXY", "GOPRIVATE", "GONOPROXY", "GONOSUMDB", "GONOSUMCHECK", "GOSUMDB", "GOFLAGS", "GOINSECURE")
USER_ADD = re.compile(r"\b(useradd|adduser)\b([^;&|]*)")
VARIABLE = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-+])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))")


def download_only(command: str) -> bool:
    """A RUN that only downloads or verifies modules (with echo, cd or set around it)."""
    parts = [part.strip() for part in re.split(r"&&|;|\n", command.replace("\\\n", " "))]
    parts = [part for part in parts if part]
    if not parts or any("||" in part or "|" in part for part in parts):
        return False
    if not any(MODULE_STEP.match(part) for part in parts):
        return False
    return all(MODULE_STEP.match(part) or HARMLESS_STEP.match(part) for part in parts)


def claims(relative_path: str) -> bool:
    name = relative_path.replace("\\", "/").rsplit("/", 1)[-1]
    if not DOCKERFILE_NAME.match(name):
        return False
    lowered = name.lower()
    return not (lowered.endswith(NOT_DOCKERFILE_SUFFIXES) and not lowered.endswith(".dockerfile"))


# ---------------------------------------------------------------- facts


@dataclass
class MountFacts:
    type: str
    target: str
    mount_id: str
    raw: str
    options: dict[str, str]


@dataclass
class RunFacts:
    index: int  # into syntax.instructions
    instruction: Instruction
    mounts: list[MountFacts]
    downloads: bool
    download_only: bool
    module_cache: str | None
    build_cache: str | None
    owner: str  # `uid=N[,gid=M]` for a non-root USER, else ""
    problem: str  # why mounts cannot be added, or ""
    after_download: bool = False  # an earlier RUN of the stage (or its parents) downloads modules

    @property
    def private_mounts(self) -> list[MountFacts]:
        return [mount for mount in self.mounts if mount.type in ("ssh", "secret")]

    def missing_mounts(self, modules_in_layer: bool = False) -> list[str]:
        """Cache mount targets this RUN needs and does not have.

        With `modules_in_layer` (the image is built on a fresh builder that imports a layer
        cache), the download RUN keeps the modules in its layer and the RUNs after it read them
        there: a module cache mount would empty that layer, or hide it.
        """
        if self.problem:
            return []
        cache_targets = [mount.target.rstrip("/") for mount in self.mounts if mount.type == "cache"]
        missing = []
        modules_from_layer = modules_in_layer and (self.downloads or self.after_download)
        if self.module_cache and not modules_from_layer and not any(
            target == self.module_cache or target.endswith("/pkg/mod") for target in cache_targets
        ):
            missing.append(self.module_cache)
        # `go mod download` compiles nothing: the build cache would be an empty mount there.
        if self.build_cache and not self.download_only and not any(
            target == self.build_cache or "go-build" in target or target.endswith("/gocache") for target in cache_targets
        ):
            missing.append(self.build_cache)
        return missing


@dataclass
class StageFacts:
    number: int
    name: str
    base: str
    base_stage: int | None
    golang_image: bool
    first: int  # index of its FROM
    last: int  # index past its last instruction
    go_runs: list[RunFacts] = field(default_factory=list)
    settings: list[tuple[str, str, int]] = field(default_factory=list)  # (name, value, line)
    source_copy: int | None = None
    modules_first: bool = False  # go.mod reaches the stage before the whole source
    downloaded: bool = False  # a RUN of the stage (or its parents) has downloaded modules
    env: dict[str, str] = field(default_factory=dict)
    user: str = ""
    user_adds: list[str] = field(default_factory=list)
    go_toolset: bool = False  # FROM a go-toolset image: its own user and HOME

    @property
    def label(self) -> str:
        return self.name or f"#{self.number}"

    @property
    def is_go(self) -> bool:
        return bool(self.go_runs)


@dataclass
class BuildUse:
    file: str
    line: int
    tool: str  # buildx | build-push-action | docker-build | docker-build-legacy | kaniko | podman | buildah
    dockerfile: str | None  # repo-relative, or None when it cannot be told
    context: str | None = None  # the build context, repo-relative ("" for the root), None if unknown
    # A fresh builder in every job that imports a layer cache (a registry or gha cache): cache
    # mounts start empty there, only layers come back.
    ephemeral: bool = False


@dataclass
class DockerfileFacts:
    path: str
    relative: str
    text: str
    newline: str
    syntax: DockerfileSyntax
    stages: list[StageFacts]
    context_dir: str | None  # repo-relative directory that COPY . . reads, when known
    module_copies: list[tuple[list[str], str]]  # (sources relative to the context, destination subdir)
    vendored: bool
    builds: list[BuildUse]
    upper_case: bool
    module_dir: str = ""  # the module directory inside the context, "" at its root
    context_problem: str = ""  # why go.mod cannot be copied first, or ""

    @property
    def modules_in_layer(self) -> bool:
        """CI builds this file on fresh builders with a layer cache: keep the modules in the
        download layer, since cache mounts are never exported (moby/buildkit#1474)."""
        return any(build.ephemeral for build in self.builds)


def inspect(source: SourceFile, repo: RepoFacts) -> DockerfileFacts:
    text = source.text
    syntax = parse_dockerfile(text, source.display_path)
    relative = _repo_relative(source.path, repo.root)
    stages = _stages(syntax, source.display_path)
    builds = [build for build in ci_builds(repo) if build.dockerfile in (relative, None)]
    modules = _module_files(repo.root, relative, builds)
    upper = sum(1 for item in syntax.instructions if item.keyword_as_written.isupper())
    return DockerfileFacts(
        path=source.display_path,
        relative=relative,
        text=text,
        newline=source.newline,
        syntax=syntax,
        stages=stages,
        context_dir=modules.context,
        module_copies=modules.copies,
        vendored=modules.vendored,
        builds=builds,
        upper_case=upper * 2 >= len(syntax.instructions),
        module_dir=modules.module_dir,
        context_problem=modules.problem,
    )


def _repo_relative(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.name


def expand(value: str, env: dict[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(4)
        operator, word = match.group(2), match.group(3) or ""
        current = env.get(name)
        if operator in (":-", "-"):
            return current if current not in (None, "") or (operator == "-" and current is not None) else word
        if operator in (":+", "+"):
            return word if current not in (None, "") or (operator == "+" and current is not None) else ""
        return current or ""

    return VARIABLE.sub(replace, value)


def _pairs(instruction: Instruction, escape: str) -> list[tuple[str, str | None]]:
    """ENV and ARG as (name, value); a legacy `ENV NAME value` keeps the rest as the value."""
    words = shell_words(instruction.args, escape)
    if not words:
        return []
    if instruction.keyword == "ENV" and "=" not in words[0]:
        return [(words[0], unquote(instruction.args.strip()[len(words[0]) :].strip()))]
    pairs: list[tuple[str, str | None]] = []
    for word in words:
        name, sep, value = word.partition("=")
        pairs.append((name, unquote(value) if sep else None))
    return pairs


def _stages(syntax: DockerfileSyntax, shown: str) -> list[StageFacts]:
    escape = syntax.escape
    meta: dict[str, str] = {}
    stages: list[StageFacts] = []
    by_name: dict[str, StageFacts] = {}
    current: StageFacts | None = None
    for index, instruction in enumerate(syntax.instructions):
        keyword = instruction.keyword
        if keyword == "FROM":
            if current is not None:
                current.last = index
            words = shell_words(instruction.args, escape)
            if not words:
                raise InputError(shown, instruction.line, instruction.col, "FROM without an image; name the base image")
            base = expand(unquote(words[0]), meta)
            name = unquote(words[2]) if len(words) >= 3 and words[1].lower() == "as" else ""
            parent = by_name.get(base.lower())
            if parent is None and base.isdigit() and int(base) < len(stages):
                parent = stages[int(base)]
            current = StageFacts(
                number=len(stages),
                name=name,
                base=base,
                base_stage=parent.number if parent else None,
                golang_image=parent.golang_image if parent else bool(GOLANG_IMAGE.search(base.lower())),
                first=index,
                last=len(syntax.instructions),
            )
            if parent is not None:
                current.env = dict(parent.env)
                current.user = parent.user
                current.user_adds = list(parent.user_adds)
                current.modules_first = parent.modules_first or parent.source_copy is not None
                current.downloaded = parent.downloaded
                current.go_toolset = parent.go_toolset
            elif current.golang_image:
                current.env = {"GOPATH": "/go"}
            elif GO_TOOLSET_IMAGE.search(base.lower()):
                current.go_toolset = True
                current.env = {"HOME": GO_TOOLSET_HOME}
                current.user = GO_TOOLSET_UID
            stages.append(current)
            if name:
                by_name[name.lower()] = current
            continue
        if current is None:
            if keyword == "ARG":
                for arg_name, value in _pairs(instruction, escape):
                    if value is not None:
                        meta[arg_name] = expand(value, meta)
            continue
        _read_instruction(current, index, instruction, escape, stages)
    return stages


def _read_instruction(stage: StageFacts, index: int, instruction: Instruction, escape: str, stages: list[StageFacts]) -> None:
    keyword = instruction.keyword
    if keyword in ("ENV", "ARG"):
        for name, value in _pairs(instruction, escape):
            if value is None:
                continue
            stage.env[name] = expand(value, stage.env)
            if name in GO_SETTINGS:
                stage.settings.append((name, stage.env[name], instruction.line))
    elif keyword == "USER":
        stage.user = expand(unquote(instruction.args.strip()), stage.env)
    elif keyword in ("COPY", "ADD") and not instruction.flag_values("from"):
        sources = _copy_sources(instruction, escape)
        if stage.source_copy is None and not stage.modules_first:
            if any(source in (".", "./") for source in sources):
                stage.source_copy = index
            elif any(_copies_module_files(source) for source in sources):
                stage.modules_first = True
    elif keyword == "RUN":
        command = _run_command(instruction)
        if command.startswith("#") and not instruction.json_form and not instruction.heredocs:
            # `RUN # ...` is one shell comment, continuation lines included: it runs nothing.
            return
        script = command + "\n" + "".join(doc.body for doc in instruction.heredocs)
        for match in USER_ADD.finditer(script):
            stage.user_adds.append(match.group(2))
        mounts = _mounts(instruction, stage.env)
        if stage.source_copy is None and any(
            mount.type == "bind" and PurePosixPath(mount.options.get("source", "")).name in ("go.mod", "go.work")
            for mount in mounts
        ):
            stage.modules_first = True
        if not _runs_go(script, stage):
            return
        module_cache, build_cache, owner, problem = _cache_targets(stage)
        downloads = bool(GO_MOD_DOWNLOAD.search(script))
        stage.go_runs.append(
            RunFacts(
                index=index,
                instruction=instruction,
                mounts=mounts,
                downloads=downloads,
                download_only=download_only(command) and not instruction.json_form and not instruction.heredocs,
                module_cache=module_cache,
                build_cache=build_cache,
                owner=owner,
                problem=problem,
                after_download=stage.downloaded,
            )
        )
        stage.downloaded = stage.downloaded or downloads


def _copies_module_files(source: str) -> bool:
    """`go.mod`, `go.work`, or a pattern such as `go.*` that matches go.mod and not the sources."""
    name = PurePosixPath(source).name
    if name in ("go.mod", "go.work"):
        return True
    return (
        any(char in name for char in "*?[")
        and fnmatch.fnmatchcase("go.mod", name)
        and not fnmatch.fnmatchcase("main.go", name)
    )


def _run_command(instruction: Instruction) -> str:
    """The RUN's command line; the exec form `["go", "build"]` as `go build`."""
    args = instruction.args.strip()
    if instruction.json_form:
        import json

        try:
            items = json.loads(args)
        except ValueError:
            return args
        if isinstance(items, list):
            return " ".join(str(item) for item in items)
    return args


def _copy_sources(instruction: Instruction, escape: str) -> list[str]:
    args = instruction.args.strip()
    if args.startswith("["):
        try:
            import json

            items = json.loads(args)
            return [str(item) for item in items[:-1]] if isinstance(items, list) else []
        except ValueError:
            return []
    words = [unquote(word) for word in shell_words(args, escape)]
    return words[:-1]


def _copy_destination(instruction: Instruction, escape: str) -> str:
    args = instruction.args.strip()
    if args.startswith("["):
        import json

        try:
            items = json.loads(args)
            return str(items[-1])
        except (ValueError, IndexError):
            return "."
    words = shell_words(args, escape)
    return words[-1] if words else "."


def _mounts(instruction: Instruction, env: dict[str, str]) -> list[MountFacts]:
    mounts = []
    for raw in instruction.flag_values("mount"):
        options = parse_mount(raw)
        options = {key: expand(value, env) for key, value in options.items()}
        target = options.get("target", "")
        mounts.append(MountFacts(options.get("type", "bind"), target, options.get("id", target), raw, options))
    return mounts


def _runs_go(script: str, stage: StageFacts) -> bool:
    if GO_RUN.search(script):
        return True
    return stage.golang_image and bool(MAKE_RUN.search(script)) and not PACKAGE_INSTALL.search(script)


def _cache_targets(stage: StageFacts) -> tuple[str | None, str | None, str, str]:
    """Module cache, build cache, mount owner options, and a problem if they cannot be told."""
    env = stage.env
    home, owner, problem = _home_and_owner(stage)
    if stage.go_toolset and not (
        (env.get("GOMODCACHE") or env.get("GOPATH")) and (env.get("GOCACHE") or env.get("XDG_CACHE_HOME"))
    ):
        return None, None, owner, (
            f"the go-toolset image runs as uid {GO_TOOLSET_UID} with HOME={GO_TOOLSET_HOME} and sets its Go "
            "directories itself; set ENV GOMODCACHE and GOCACHE in the stage so the cache mounts can use them"
        )
    module_cache = env.get("GOMODCACHE") or None
    if not module_cache:
        gopath = (env.get("GOPATH") or "").split(":")[0]
        if gopath:
            module_cache = gopath.rstrip("/") + "/pkg/mod"
        elif home:
            module_cache = home.rstrip("/") + "/go/pkg/mod"
    build_cache = env.get("GOCACHE") or None
    if build_cache == "off":
        build_cache = None
    elif not build_cache:
        xdg = env.get("XDG_CACHE_HOME")
        if xdg:
            build_cache = xdg.rstrip("/") + "/go-build"
        elif home:
            build_cache = home.rstrip("/") + "/.cache/go-build"
    if problem:
        return module_cache, build_cache, owner, problem
    if (module_cache and "$" in module_cache) or (build_cache and "$" in build_cache):
        return module_cache, build_cache, owner, "the Go cache directories depend on variables set at build time"
    if module_cache is None or (build_cache is None and env.get("GOCACHE") != "off"):
        return module_cache, build_cache, owner, (
            f"USER {stage.user} has no known home directory; set ENV GOMODCACHE and GOCACHE in the stage"
        )
    return _clean(module_cache), _clean(build_cache) if build_cache else None, owner, ""


def _clean(path: str) -> str:
    cleaned = str(PurePosixPath(path))
    return cleaned if cleaned.startswith("/") else "/" + cleaned


def _home_and_owner(stage: StageFacts) -> tuple[str | None, str, str]:
    """HOME as RUN sees it, `uid=..` for the cache mounts, and why they cannot be told."""
    env_home = stage.env.get("HOME")
    user = stage.user.strip()
    name, _, group = user.partition(":")
    if not name or name in ("root", "0"):
        return env_home or "/root", "", ""
    uid = name if name.isdigit() else None
    home = env_home
    for options in stage.user_adds:
        words = options.split()
        if name not in words and (uid is None or uid not in words):
            continue
        for position, word in enumerate(words[:-1]):
            if word in ("-u", "--uid") and words[position + 1].isdigit():
                uid = uid or words[position + 1]
            if word in ("-d", "--home-dir", "-h", "--home") and not home:
                home = words[position + 1]
        if not home and not name.isdigit():
            home = f"/home/{name}"
    if uid is None:
        return home, "", f"USER {user} has no numeric uid in this Dockerfile, so the cache mounts' owner is unknown; use USER <uid>"
    owner = f"uid={uid}" + (f",gid={group}" if group.isdigit() else "")
    return home, owner, ""


# ---------------------------------------------------------------- build context and CI builds


@dataclass
class ModuleFiles:
    context: str | None  # repo-relative directory that COPY . . reads, None when it cannot be told
    copies: list[tuple[list[str], str]]  # (sources relative to the context, destination subdir)
    module_dir: str  # the module (or workspace) directory relative to the context, "" at its root
    vendored: bool
    problem: str = ""  # why the module files cannot be copied first, or ""


def _module_files(root: Path, relative: str, builds: list[BuildUse]) -> ModuleFiles:
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


# ---------------------------------------------------------------- planning


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
    destination = unquote(_copy_destination(source_copy, escape))
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
    names = [name for name, _ in _pairs(instruction, escape)]
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
            sources = _copy_sources(instruction, syntax.escape)
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
                if item.keyword == "ARG" and any(name in ("TARGETOS", "TARGETARCH", "TARGETPLATFORM") for name, _ in _pairs(item, facts.syntax.escape)):
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
