"""Which go.sum and go.work.sum files a cache key covers: the walk of the working tree, go.work
`use` directives, and `modules` inputs (directories, files or hashFiles()-style globs) in the
order GitHub's hashFiles() hashes them.

The keys (`ci_gocache.keys`) digest what this module finds; the patchers use it to decide which
files a job's key names. Standard library only: the action runs this file straight from its
checkout with the runner's Python.
"""

from __future__ import annotations

import os
import re

# No pathlib, typing or dataclasses: the action's key phase, which every job runs, imports this
# module, and together they cost it about as much CPU as walking 20,000 files (bench/key_speed.py).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable

SUM_FILE_NAMES = ("go.sum", "go.work.sum")
# Go ignores directories named testdata or vendor and those starting with "." or "_" when it
# matches packages; node_modules holds no Go module a build uses.
SKIPPED_DIRECTORIES = {"vendor", "node_modules", "testdata"}


class KeyInputError(ValueError):
    """An input the keys cannot be computed from: `path` and a message saying what to do."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


def skipped_directory(name: str) -> bool:
    return name in SKIPPED_DIRECTORIES or name.startswith((".", "_"))


def parse_go_work_uses(text: str) -> list[str]:
    """The directories named by `use` directives in a go.work file."""
    uses: list[str] = []
    in_block = False
    for raw_line in text.splitlines():
        line = raw_line.split("//", 1)[0].strip()
        if not line:
            continue
        if in_block:
            if line == ")":
                in_block = False
            else:
                uses.append(_unquote(line))
            continue
        if line.startswith("use"):
            rest = line[3:].strip()
            if rest == "(":
                in_block = True
            elif rest.startswith("(") and rest.endswith(")"):
                uses.extend(_unquote(part) for part in rest[1:-1].split())
            elif rest:
                uses.append(_unquote(rest))
    return uses


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"`":
        return value[1:-1]
    return value


def _normal(relative: str) -> str:
    cleaned = os.path.normpath(relative.replace("\\", "/")).replace("\\", "/")
    return "" if cleaned == "." else cleaned


_SEPARATORS = os.sep + (os.altsep or "")
_SEPARATOR = re.compile("[" + re.escape(_SEPARATORS) + "]")


def path_text(path: str | os.PathLike[str]) -> str:
    """`str(Path(path))` without importing pathlib: empty and "." parts dropped."""
    drive, rest = os.path.splitdrive(os.fspath(path))
    anchor = drive + (os.sep if rest[:1] and rest[0] in _SEPARATORS else "")
    return anchor + os.sep.join(part for part in _SEPARATOR.split(rest) if part not in ("", ".")) or "."


def _on_disk(root: str | os.PathLike[str], relative: str) -> str:
    """`str(Path(root) / relative)`: so `go.sum/` names the file, and an absolute `relative` stands alone."""
    return path_text(os.path.join(os.fspath(root), relative))


class DiskTree:
    """A working tree on disk, as go.sum discovery sees it."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = root

    def is_file(self, relative: str) -> bool:
        return os.path.isfile(_on_disk(self.root, relative))

    def lexists(self, relative: str) -> bool:
        """There is an entry of that name, whatever it is (a dangling link or a FIFO too)."""
        return os.path.lexists(_on_disk(self.root, relative))

    def read_text(self, relative: str) -> str:
        with open(_on_disk(self.root, relative), encoding="utf-8", errors="replace") as handle:
            return handle.read()

    def files_named(self, names: set[str]) -> list[str]:
        return walk_files(self.root, names)


class ListedTree:
    """A tree given as its list of files (e.g. the go files of one git commit): go.sum discovery
    without a checkout. `read_text` reads a file's contents on demand (only go.work files are read)."""

    def __init__(self, files: set[str] | frozenset[str] | dict[str, str], read_text: Callable[[str], str]) -> None:
        self.files = files
        self.read_text = read_text  # type: ignore[method-assign]

    def is_file(self, relative: str) -> bool:
        return relative in self.files

    lexists = is_file

    def files_named(self, names: set[str]) -> list[str]:
        return [path for path in self.files if path.rsplit("/", 1)[-1] in names and is_walked(path)]


def is_walked(relative_path: str) -> bool:
    """Whether walk_files reaches this file: none of its directories is skipped."""
    return not any(skipped_directory(part) for part in relative_path.split("/")[:-1])


def _tree(root: str | os.PathLike[str] | DiskTree | ListedTree) -> DiskTree | ListedTree:
    return root if isinstance(root, (DiskTree, ListedTree)) else DiskTree(root)


def sum_files_for_directories(root: str | os.PathLike[str] | DiskTree | ListedTree, directories: list[str]) -> list[str]:
    """The go.sum and go.work.sum files (relative to root, sorted) for modules built in `directories`.

    A directory with a go.work contributes every module it uses and its go.work.sum.
    A directory inside a module contributes that module. A module without go.sum
    contributes its go.mod, so the key still changes when it gains dependencies.
    """
    tree = _tree(root)
    found: set[str] = set()
    for directory in directories:
        found.update(_sum_files_for_directory(tree, _normal(directory)))
    return sorted(found)


def _sum_files_for_directory(tree: DiskTree | ListedTree, directory: str) -> set[str]:
    module_dir = _enclosing(tree, directory, "go.mod")
    work_dir = _enclosing(tree, directory, "go.work")
    if os.environ.get("GOWORK") == "off":
        work_dir = None
    # go.work applies when it sits at or above the module (Go's own lookup rule).
    if work_dir is not None and (module_dir is None or _is_within(module_dir, work_dir)):
        return _workspace_sum_files(tree, work_dir)
    if module_dir is not None:
        return {_module_sum_file(tree, module_dir)}
    return set()


def _is_within(inner: str, outer: str) -> bool:
    return outer == "" or inner == outer or inner.startswith(outer + "/")


def _enclosing(tree: DiskTree | ListedTree, directory: str, marker: str) -> str | None:
    current = directory
    while True:
        if tree.is_file(_join_relative(current, marker)):
            return current
        if current == "":
            return None
        current = _normal(os.path.dirname(current))


def _join_relative(directory: str, name: str) -> str:
    return f"{directory}/{name}" if directory else name


def _module_sum_file(tree: DiskTree | ListedTree, module_dir: str) -> str:
    go_sum = _join_relative(module_dir, "go.sum")
    # lexists: a go.sum that is a dangling link or a FIFO is reported by `sum_file_problem`,
    # not silently replaced by go.mod.
    return go_sum if tree.lexists(go_sum) else _join_relative(module_dir, "go.mod")


def _workspace_sum_files(tree: DiskTree | ListedTree, work_dir: str) -> set[str]:
    files: set[str] = set()
    work_sum = _join_relative(work_dir, "go.work.sum")
    if tree.is_file(work_sum):
        files.add(work_sum)
    for used in parse_go_work_uses(tree.read_text(_join_relative(work_dir, "go.work"))):
        module_dir = _normal(_join_relative(work_dir, used))
        if tree.is_file(_join_relative(module_dir, "go.mod")):
            files.add(_module_sum_file(tree, module_dir))
    return files


def all_sum_files(root: str | os.PathLike[str] | DiskTree | ListedTree) -> list[str]:
    """Every go.sum and go.work.sum below root, in the order hashFiles('**/go.sum', '**/go.work.sum') hashes them."""
    return sorted(_tree(root).files_named(set(SUM_FILE_NAMES)), key=_components)


def walk_files(root: str | os.PathLike[str], names: set[str] | None = None) -> list[str]:
    """Files below root (relative, "/"-separated), skipping the directories Go ignores
    (`skipped_directory`); only those called one of `names` when given.

    A plain scandir loop: it never stats a file, so it keeps pace with `find` on large trees.
    A symlink to a directory is listed as a file and never followed.
    """
    found: list[str] = []
    pending = [("", os.fspath(root))]
    skipped, skipped_starts = SKIPPED_DIRECTORIES, (".", "_")  # skipped_directory, inlined: the loop runs per file
    while pending:
        relative_dir, directory = pending.pop()
        prefix = relative_dir + "/" if relative_dir else ""
        try:
            entries = os.scandir(directory)
        except OSError:
            continue
        with entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    name = entry.name
                    if name not in skipped and not name.startswith(skipped_starts):
                        pending.append((prefix + name, entry.path))
                elif names is None or entry.name in names:
                    found.append(prefix + entry.name)
    return found


def glob_pattern(pattern: str) -> re.Pattern[str]:
    """A regex for a hashFiles-style glob: `**` spans directories, `*` and `?` stay in one name."""
    pattern = _normal(pattern.strip().removeprefix("./"))
    out = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if pattern.startswith("**/", index):
            out.append("(?:.*/)?")
            index += 3
            continue
        if pattern.startswith("**", index):
            out.append(".*")
            index += 2
            continue
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            close = pattern.find("]", index + 1)
            if close < 0:
                out.append(re.escape(char))
            else:
                body = pattern[index + 1 : close]
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append("[" + body.replace("\\", "\\\\") + "]")
                index = close
        else:
            out.append(re.escape(char))
        index += 1
    try:
        return re.compile("".join(out) + r"\Z")
    except re.error as error:
        raise KeyInputError(pattern, f"not a valid glob ({error}); fix the pattern (a range such as [a-z] must go upwards)") from None


def _components(relative: str) -> list[str]:
    return relative.split("/")


def _glob_search_path(pattern: str) -> str:
    """The directory (or file) @actions/glob starts from for a pattern: its segments before the first glob."""
    segments = []
    for segment in _normal(pattern.strip().removeprefix("./")).split("/"):
        if any(char in segment for char in "*?["):
            break
        segments.append(segment)
    return "/".join(segment for segment in segments if segment)


def hashfiles_order(patterns: list[str], files: set[str] | list[str]) -> list[str]:
    """`files` in the order GitHub's hashFiles() hashes them for these patterns.

    The runner's glob library (@actions/glob) walks one search path per pattern, in the order
    given, leaving out a search path below another one; each walk is depth-first with names in
    byte order, which is the order of the paths' components (`foo/go.sum` before `foo-bar/go.sum`).
    Files below no search path (a module found from a directory) follow in the same order.
    """
    search_paths: list[str] = []
    for pattern in patterns:
        if pattern.strip() and not pattern.strip().startswith("!"):
            path = _glob_search_path(pattern)
            if path not in search_paths:
                search_paths.append(path)
    kept = [path for path in search_paths if not any(other != path and _is_within(path, other) for other in search_paths)]
    remaining = sorted(set(files), key=_components)
    ordered: list[str] = []
    for path in kept:
        ordered.extend(file for file in remaining if _is_within(file, path))
        remaining = [file for file in remaining if not _is_within(file, path)]
    return ordered + remaining


def expand_sum_globs(root: str | os.PathLike[str], patterns: list[str]) -> list[str]:
    """Files matched by go.sum globs (`**` allowed) or directories, relative to root, in hashFiles() order.

    All globs share one walk of the tree.
    """
    files: set[str] = set()
    directories: list[str] = []
    globs: list[re.Pattern[str]] = []
    for pattern in patterns:
        pattern = pattern.strip()
        if not pattern:
            continue
        if any(char in pattern for char in "*?["):
            globs.append(glob_pattern(pattern))
        elif os.path.isfile(_on_disk(root, pattern)):
            files.add(_normal(pattern))
        else:
            directories.append(pattern)
    if globs:
        last_parts = [pattern.strip().replace("\\", "/").rsplit("/", 1)[-1] for pattern in patterns if any(c in pattern for c in "*?[")]
        names = None if any(any(c in part for c in "*?[") for part in last_parts) else set(last_parts)
        files.update(path for path in walk_files(root, names) if any(glob.match(path) for glob in globs))
    files.update(sum_files_for_directories(root, directories))
    return hashfiles_order([pattern for pattern in patterns if pattern.strip() not in directories], files)


def resolve_sum_files(root: str | os.PathLike[str], modules: list[str]) -> list[str]:
    """The sum files for a `modules` input (directories, go.sum files or globs, relative to root).

    Without any: the module or go.work at root, and failing that every go.sum below root.
    """
    if modules:
        return expand_sum_globs(root, [_inside(root, module) for module in modules])
    return default_sum_files(DiskTree(root))


def default_sum_files(tree: DiskTree | ListedTree) -> list[str]:
    """The sum files the action keys on without a `modules` input (`simulate` replays it on git trees)."""
    return sum_files_for_directories(tree, [""]) or all_sum_files(tree)


def _inside(root: str | os.PathLike[str], path: str) -> str:
    if os.path.isabs(path):
        try:
            return os.path.relpath(path, root)
        except ValueError:  # another drive on Windows
            return path
    return path
