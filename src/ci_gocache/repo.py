"""Facts about a Go repository: its modules, workspaces and CI files. Reads, never writes."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

from ci_gocache.errors import InputError
from ci_gocache.keys import SKIPPED_DIRECTORIES, parse_go_work_uses
from ci_gocache.sourcefile import NotPatchable, read_regular_file

# go.mod and go.work files are small; a bigger one is not what it claims to be.
MAX_GO_FILE_BYTES = 4 * 1024 * 1024

_GO_LINE = re.compile(r"^\s*go\s+(\S+)", re.MULTILINE)
_TOOLCHAIN_LINE = re.compile(r"^\s*toolchain\s+(\S+)", re.MULTILINE)
_MODULE_LINE = re.compile(r"^\s*module\s+(\S+)", re.MULTILINE)

# Not Dockerfile.dockerignore (a Dockerfile's own ignore file) nor notes such as Dockerfile.md.
DOCKERFILE_NAME = re.compile(
    r"^(?!.*\.(dockerignore|md|txt|rst|orig|bak|swp|tmp|json|ya?ml|sh)$)(Dockerfile|Containerfile)([._-].*)?$"
    r"|.*\.(Dockerfile|dockerfile)$"
)


@dataclass
class GoModule:
    directory: str
    module_path: str
    go_version: str | None
    toolchain: str | None
    has_go_sum: bool
    has_vendor: bool


@dataclass
class GoWorkspace:
    directory: str
    go_version: str | None
    toolchain: str | None
    uses: list[str]
    has_go_work_sum: bool


@dataclass
class RepoFacts:
    root: Path
    modules: list[GoModule] = field(default_factory=list)
    workspaces: list[GoWorkspace] = field(default_factory=list)
    workflow_files: list[str] = field(default_factory=list)
    gitlab_files: list[str] = field(default_factory=list)
    dockerfiles: list[str] = field(default_factory=list)
    # The cache mounts a Dockerfile has once patched (target, id, uid, gid), or None if unreadable. The
    # Dockerfile target knows how to tell; the patching pipeline sets this so other targets need not import it.
    dockerfile_cache_mounts: Optional[Callable[[Path, "RepoFacts"], Optional[list[dict[str, str]]]]] = None
    # Answers about the tree that jobs ask again and again (which go.sum files a directory builds),
    # remembered for as long as these facts live: like the rest of them, a snapshot of the tree.
    remembered: dict[tuple[str, ...], list[str]] = field(default_factory=dict, repr=False, compare=False)

    def remember(self, question: tuple[str, ...], answer: Callable[[], list[str]]) -> list[str]:
        """A copy of the answer to `question`, worked out by `answer` the first time it is asked."""
        if question not in self.remembered:
            self.remembered[question] = answer()
        return list(self.remembered[question])

    def module_at(self, directory: str) -> GoModule | None:
        return next((module for module in self.modules if module.directory == directory), None)


def _first(pattern: re.Pattern[str], text: str) -> str | None:
    match = pattern.search(text)
    return match.group(1) if match else None


def _relative(root: Path, path: Path) -> str:
    relative = path.relative_to(root).as_posix()
    return "" if relative == "." else relative


def find_repo_root(path: Path) -> Path:
    """The repository a CI file belongs to: the parent of `.github`, else the nearest go.mod/.git."""
    # abspath, not resolve(): a symlinked file belongs where it is listed, not where it points.
    absolute = Path(os.path.abspath(path))
    start = absolute if absolute.is_dir() else absolute.parent
    for candidate in [start, *start.parents]:
        if candidate.name == ".github":
            return candidate.parent
    for candidate in [start, *start.parents]:
        # A folder with its own .github/ is a repository of its own too (an example or a vendored
        # project inside another checkout): its Dockerfiles belong with its workflows.
        if (candidate / ".git").exists() or (candidate / "go.work").is_file() or (candidate / ".github").is_dir():
            return candidate
    for candidate in [start, *start.parents]:
        if (candidate / "go.mod").is_file():
            return candidate
    return start


def read_go_file(path: Path) -> str:
    """A go.mod or go.work as text. Raises InputError (never blocks) when it is unreadable, too big,
    or not a regular file (a FIFO, a device, a directory)."""
    shown = os.path.relpath(path)
    try:
        raw, _ = read_regular_file(path, shown, MAX_GO_FILE_BYTES, f"a {path.name} file")
    except NotPatchable as special:
        raise InputError(shown, 1, 1, f"{special.message.split(';')[0]}; {path.name} must be a regular file") from None
    return raw.decode("utf-8", errors="replace")


def inspect_repo(root: Path) -> RepoFacts:
    facts = RepoFacts(root=root)
    for directory, subdirectories, files in os.walk(root):
        subdirectories[:] = sorted(
            d for d in subdirectories if d not in SKIPPED_DIRECTORIES and not (d.startswith(".") and d != ".github")
        )
        here = Path(directory)
        relative_dir = _relative(root, here)
        if "go.mod" in files:
            text = read_go_file(here / "go.mod")
            facts.modules.append(
                GoModule(
                    directory=relative_dir,
                    module_path=_first(_MODULE_LINE, text) or "",
                    go_version=_first(_GO_LINE, text),
                    toolchain=_first(_TOOLCHAIN_LINE, text),
                    has_go_sum="go.sum" in files,
                    has_vendor=(here / "vendor" / "modules.txt").is_file(),
                )
            )
        if "go.work" in files:
            text = read_go_file(here / "go.work")
            facts.workspaces.append(
                GoWorkspace(
                    directory=relative_dir,
                    go_version=_first(_GO_LINE, text),
                    toolchain=_first(_TOOLCHAIN_LINE, text),
                    uses=parse_go_work_uses(text),
                    has_go_work_sum="go.work.sum" in files,
                )
            )
        if relative_dir == ".github/workflows":
            facts.workflow_files.extend(
                f"{relative_dir}/{name}" for name in sorted(files) if name.endswith((".yml", ".yaml"))
            )
        for name in sorted(files):
            if name == ".gitlab-ci.yml" or (name.endswith((".gitlab-ci.yml", ".gitlab-ci.yaml"))):
                facts.gitlab_files.append(_join(relative_dir, name))
            elif DOCKERFILE_NAME.match(name):
                facts.dockerfiles.append(_join(relative_dir, name))
    return facts


def _join(directory: str, name: str) -> str:
    return f"{directory}/{name}" if directory else name
