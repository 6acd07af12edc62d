"""Reading a Dockerfile into DockerfileFacts: stages, their environment as each RUN sees it (ENV,
ARG, USER), the Go RUNs with the cache mount targets they need, and the copy order. It edits nothing."""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path, PurePosixPath

from ci_gocache.errors import InputError
from ci_gocache.repo import RepoFacts
from ci_gocache.sourcefile import SourceFile
from ci_gocache.targets.dockerfile.build_context import ci_builds, module_files
from ci_gocache.targets.dockerfile.facts import DockerfileFacts, MountFacts, RunFacts, StageFacts
from ci_gocache.targets.dockerfile.syntax import (
    DockerfileSyntax,
    Instruction,
    parse_dockerfile,
    parse_mount,
    shell_words,
    unquote,
)


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


def inspect(source: SourceFile, repo: RepoFacts) -> DockerfileFacts:
    text = source.text
    syntax = parse_dockerfile(text, source.display_path)
    relative = _repo_relative(source.path, repo.root)
    stages = _stages(syntax, source.display_path)
    builds = [build for build in ci_builds(repo) if build.dockerfile in (relative, None)]
    modules = module_files(repo.root, relative, builds)
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


def variable_pairs(instruction: Instruction, escape: str) -> list[tuple[str, str | None]]:
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
                for arg_name, value in variable_pairs(instruction, escape):
                    if value is not None:
                        meta[arg_name] = expand(value, meta)
            continue
        _read_instruction(current, index, instruction, escape, stages)
    return stages


def _read_instruction(stage: StageFacts, index: int, instruction: Instruction, escape: str, stages: list[StageFacts]) -> None:
    keyword = instruction.keyword
    if keyword in ("ENV", "ARG"):
        for name, value in variable_pairs(instruction, escape):
            if value is None:
                continue
            stage.env[name] = expand(value, stage.env)
            if name in GO_SETTINGS:
                stage.settings.append((name, stage.env[name], instruction.line))
    elif keyword == "USER":
        stage.user = expand(unquote(instruction.args.strip()), stage.env)
    elif keyword in ("COPY", "ADD") and not instruction.flag_values("from"):
        sources = copy_sources(instruction, escape)
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


def copy_sources(instruction: Instruction, escape: str) -> list[str]:
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


def copy_destination(instruction: Instruction, escape: str) -> str:
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
