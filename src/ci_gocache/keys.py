"""Cache keys for Go modules and the Go build cache: the one implementation.

The patcher writes these keys as GitHub expressions, the action computes them with
concrete values, and `ci-gocache key` prints them locally. Standard library only:
the action runs this file straight from its checkout with the runner's Python.

Layout (parts joined with "-"):

    module key:  <prefix>-<os>-<arch>-gomod-<go.sum digest>
    restore:     <prefix>-<os>-<arch>-gomod-
    build key:   <prefix>-<os>-<arch>-gobuild-<go version>-<job>.<scope>-<go.sum digest>-<run>
    restore:     <prefix>-<os>-<arch>-gobuild-<go version>-<job>.<scope>-<go.sum digest>-
                 <prefix>-<os>-<arch>-gobuild-<go version>-<job>.<scope>-

A restore key names exactly one job and matrix leg: the Go version holds no "-" (see
version_safe), a job id holds no "." (GitHub allows letters, digits, "-" and "_"), and the
scope is empty or a fixed-length hex digest of the matrix leg and extra parts (scope_digest),
so no other job's key starts with it. Matrix values never appear as text: a value with a
comma (`netgo,osusergo`) or a long one would make the key invalid for actions/cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from collections import namedtuple

# No pathlib, typing or dataclasses: the action's key phase, which every job runs, imports this
# module, and together they cost it about as much CPU as walking 20,000 files (bench/key_speed.py).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable

DEFAULT_PREFIX = "gocache-v1"
MODULE_KIND = "gomod"
BUILD_KIND = "gobuild"
SUM_FILE_NAMES = ("go.sum", "go.work.sum")
# Go ignores directories named testdata or vendor and those starting with "." or "_" when it
# matches packages; node_modules holds no Go module a build uses.
SKIPPED_DIRECTORIES = {"vendor", "node_modules", "testdata"}
# A go.sum larger than this is not a go.sum (the largest real ones are a few MiB).
MAX_SUM_FILE_BYTES = 64 << 20


class KeyInputError(ValueError):
    """An input the keys cannot be computed from: `path` and a message saying what to do."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


def skipped_directory(name: str) -> bool:
    return name in SKIPPED_DIRECTORIES or name.startswith((".", "_"))


class KeyParts(namedtuple("KeyParts", "prefix os_name arch sums_digest go_version job scope run", defaults=("", "", "", ""))):
    """The pieces a key is made of, all text. Values may be literal text or GitHub expressions.

    prefix, os_name, arch, sums_digest, then optionally go_version, job, scope and run.
    """

    __slots__ = ()


def _join(parts: list[str]) -> str:
    return "-".join(parts)


def module_key_base(parts: KeyParts) -> str:
    return _join([parts.prefix, parts.os_name, parts.arch, MODULE_KIND]) + "-"


def module_cache_key(parts: KeyParts) -> str:
    return module_key_base(parts) + parts.sums_digest


def module_restore_keys(parts: KeyParts) -> list[str]:
    return [module_key_base(parts)]


def build_key_base(parts: KeyParts) -> str:
    fixed = [parts.prefix, parts.os_name, parts.arch, BUILD_KIND, parts.go_version]
    return _join([part for part in fixed if part != ""]) + f"-{parts.job}{JOB_END}{parts.scope}-"


def build_cache_key(parts: KeyParts) -> str:
    return build_key_base(parts) + parts.sums_digest + "-" + parts.run


def build_restore_keys(parts: KeyParts) -> list[str]:
    return [build_key_base(parts) + parts.sums_digest + "-", build_key_base(parts)]


_KEY_UNSAFE = re.compile(r"[^A-Za-z0-9._+=@~-]+")
_VERSION_UNSAFE = re.compile(r"[^A-Za-z0-9._+]+")
_JOB_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")
JOB_END = "."  # ends the job id in a build key; GitHub job ids cannot hold it
SCOPE_DIGEST_LENGTH = 12
MAX_KEY_LENGTH = 512  # actions/cache rejects longer keys
# The locate step's shell does what version_safe does, so raw steps and the action agree.
VERSION_SAFE_SHELL = "tr -c 'A-Za-z0-9._+\\n' '_'"


def key_safe(value: str) -> str:
    """A value fit for a cache key: actions/cache forbids commas, and keys stay readable."""
    return _KEY_UNSAFE.sub("_", value).strip("_") or "_"


def version_safe(value: str) -> str:
    """A Go version for a key: no "-", so the version ends where the next part starts.

    `go env GOVERSION` can say `devel go1.25-abc123 ...` or `go1.24.0 X:boringcrypto`.
    """
    return _VERSION_UNSAFE.sub("_", value.strip()) or "_"


def job_safe(value: str) -> str:
    """A job id for a key: what GitHub allows in job ids, so JOB_END cannot occur in it."""
    return _JOB_UNSAFE.sub("_", value.strip()) or "_"


def text_digest(text: str) -> str:
    """The first SCOPE_DIGEST_LENGTH hex digits of sha256 over text (UTF-8).

    The raw steps' locate step computes this over `toJSON(matrix)` as the runner prints it.
    """
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:SCOPE_DIGEST_LENGTH]


def canonical_json(text: str) -> str:
    """JSON with sorted keys and no spaces, so that runners that print toJSON differently
    (GitHub, nektos/act) give one digest; text that is not JSON stays as it is."""
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return "" if value is None else json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def scope_digest(matrix_json: str = "", extra: list[str] | tuple[str, ...] = ()) -> str:
    """The action's build-key scope: a digest of the matrix leg (`toJSON(matrix)`) and extra parts.

    Empty when there is neither (toJSON(matrix) of a job without a matrix is `null`).
    """
    text = canonical_json(matrix_json.strip()) if matrix_json.strip() else ""
    lines = [part.strip() for part in extra if part.strip()]
    if lines:
        text = "\n".join([text, *lines])
    return text_digest(text) if text else ""


def key_problem(key: str) -> str | None:
    """Why actions/cache would reject this key, or None."""
    if "," in key:
        return "it holds a comma, which actions/cache does not allow in keys"
    if len(key) > MAX_KEY_LENGTH:
        return f"it is {len(key)} characters long; actions/cache allows {MAX_KEY_LENGTH}"
    return None


# ---------------------------------------------------------------- go.sum discovery


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


# ---------------------------------------------------------------- digests


def _open_regular(path: str | os.PathLike[str]) -> int:
    """A descriptor for a regular file of at most MAX_SUM_FILE_BYTES, opened without blocking.

    O_NONBLOCK makes opening a FIFO return at once; fstat then refuses anything that is not a
    regular file (FIFO, device such as /dev/zero, socket, directory). Raises KeyInputError.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        descriptor = os.open(path, flags)
    except FileNotFoundError:
        what = "a link to a missing file" if os.path.islink(path) else "missing"
        raise KeyInputError(str(path), f"{what}; remove it or point it at a real go.sum") from None
    except OSError as error:
        raise KeyInputError(str(path), f"cannot be read ({error.strerror}); make it a readable regular file") from None
    info = os.fstat(descriptor)
    problem = ""
    if stat.S_ISDIR(info.st_mode):
        problem = "is a directory (or a link to one), not a file; remove it or replace it with the real go.sum"
    elif not stat.S_ISREG(info.st_mode):
        problem = "is not a regular file (a FIFO, a device or a socket); remove it or replace it with the real go.sum"
    elif info.st_size > MAX_SUM_FILE_BYTES:
        problem = f"is {info.st_size} bytes, over the {MAX_SUM_FILE_BYTES >> 20} MiB a go.sum can plausibly hold; check what it is"
    if problem:
        os.close(descriptor)
        raise KeyInputError(str(path), problem)
    if flags & getattr(os, "O_NONBLOCK", 0):
        os.set_blocking(descriptor, True)
    return descriptor


def file_digest(path: str | os.PathLike[str]) -> bytes:
    """sha256 of a regular file; raises KeyInputError for anything else (never blocks)."""
    digest = hashlib.sha256()
    descriptor = _open_regular(path)
    try:
        # os.read, not a file object: a key phase reads hundreds of small go.sum files.
        chunk = os.read(descriptor, 1 << 16)
        while chunk:
            digest.update(chunk)
            chunk = os.read(descriptor, 1 << 16)
    finally:
        os.close(descriptor)
    return digest.digest()


def sum_file_digests(root: str | os.PathLike[str], relative_paths: list[str]) -> tuple[dict[str, bytes], dict[str, str]]:
    """Each file read once: the sha256 of those that are regular files, and for the others what
    is wrong and what to do (a FIFO, a device, a dangling link, a directory)."""
    base = os.fspath(root)
    digests: dict[str, bytes] = {}
    problems: dict[str, str] = {}
    for relative in relative_paths:
        try:
            digests[relative] = file_digest(os.path.join(base, relative))
        except KeyInputError as error:
            problems[relative] = error.message
    return digests, problems


def digest_files(root: str | os.PathLike[str], relative_paths: list[str]) -> str:
    """The digest GitHub's hashFiles() computes: sha256 over each file's sha256, in order.

    An empty list gives "", as hashFiles does when nothing matches.
    """
    return combine_digests([file_digest(_on_disk(root, relative)) for relative in relative_paths])


def combine_digests(digests: list[bytes]) -> str:
    """sha256 over the files' sha256 digests, in order; "" for none."""
    if not digests:
        return ""
    combined = hashlib.sha256()
    for digest in digests:
        combined.update(digest)
    return combined.hexdigest()


def file_digests(root: str | os.PathLike[str], relative_paths: list[str]) -> dict[str, str]:
    return {relative: file_digest(_on_disk(root, relative)).hex() for relative in relative_paths}


def changed_sum_files(previous: dict[str, str], current: dict[str, str]) -> dict[str, list[str]]:
    """Which sum files were added, removed or changed between two digest maps."""
    return {
        "added": sorted(set(current) - set(previous)),
        "removed": sorted(set(previous) - set(current)),
        "changed": sorted(path for path in set(previous) & set(current) if previous[path] != current[path]),
    }


# ---------------------------------------------------------------- the keys of one workspace


def split_list(text: str) -> list[str]:
    """The items of a multi-value input: separated by newlines, commas or spaces."""
    return [item for item in re.split(r"[\s,]+", text) if item]


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


class WorkspaceKeys:
    """Concrete keys for one job, as the action computes them and `ci-gocache key` prints them.

    Two are equal when their parts and sum files are; `sum_file_sha256` holds the sha256 (hex) of
    each sum file, read once with the key (`ci-gocache key` prints them)."""

    __slots__ = ("parts", "sum_files", "sum_file_sha256")

    def __init__(self, parts: KeyParts, sum_files: tuple[str, ...], sum_file_sha256: dict[str, str] | None = None) -> None:
        self.parts = parts
        self.sum_files = sum_files
        self.sum_file_sha256 = {} if sum_file_sha256 is None else sum_file_sha256

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, WorkspaceKeys):
            return NotImplemented
        return (self.parts, self.sum_files) == (other.parts, other.sum_files)

    def __hash__(self) -> int:
        return hash((self.parts, self.sum_files))

    def __repr__(self) -> str:
        return f"WorkspaceKeys(parts={self.parts!r}, sum_files={self.sum_files!r}, sum_file_sha256={self.sum_file_sha256!r})"

    @property
    def module_key(self) -> str:
        return module_cache_key(self.parts)

    @property
    def module_restore_keys(self) -> list[str]:
        return module_restore_keys(self.parts)

    @property
    def build_key(self) -> str:
        return build_cache_key(self.parts)

    @property
    def build_restore_keys(self) -> list[str]:
        return build_restore_keys(self.parts)


def workspace_keys(
    root: str | os.PathLike[str],
    modules: list[str],
    *,
    prefix: str = DEFAULT_PREFIX,
    os_name: str,
    arch: str,
    go_version: str,
    job: str,
    matrix_json: str = "",
    extra: list[str] | tuple[str, ...] = (),
    run: str,
    sum_files: list[str] | None = None,
    sum_digests: dict[str, bytes] | None = None,
) -> WorkspaceKeys:
    """The keys for `modules` in root. Pass `sum_files` (and their `sum_digests`) when already
    resolved and read, so that the tree is walked and each file read once."""
    if sum_files is None:
        sum_files = resolve_sum_files(root, modules)
    known = sum_digests or {}
    digests = [known[relative] if relative in known else file_digest(_on_disk(root, relative)) for relative in sum_files]
    parts = KeyParts(
        prefix=prefix,
        os_name=key_safe(os_name),
        arch=key_safe(arch),
        sums_digest=combine_digests(digests),
        go_version=version_safe(go_version),
        job=job_safe(job),
        scope=scope_digest(matrix_json, extra),
        run=key_safe(run),
    )
    return WorkspaceKeys(
        parts=parts,
        sum_files=tuple(sum_files),
        sum_file_sha256={relative: digest.hex() for relative, digest in zip(sum_files, digests)},
    )
