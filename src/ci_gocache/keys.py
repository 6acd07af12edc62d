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

# Which files the keys cover is sumfiles' work; its names are keys.X too, as the patchers, the
# action and `simulate` call them.
from ci_gocache.sumfiles import (  # noqa: F401
    SKIPPED_DIRECTORIES,
    SUM_FILE_NAMES,
    DiskTree,
    KeyInputError,
    ListedTree,
    _normal,
    _on_disk,
    all_sum_files,
    default_sum_files,
    expand_sum_globs,
    glob_pattern,
    hashfiles_order,
    is_walked,
    parse_go_work_uses,
    path_text,
    resolve_sum_files,
    skipped_directory,
    sum_files_for_directories,
    walk_files,
)

DEFAULT_PREFIX = "gocache-v1"
MODULE_KIND = "gomod"
BUILD_KIND = "gobuild"
# A go.sum larger than this is not a go.sum (the largest real ones are a few MiB).
MAX_SUM_FILE_BYTES = 64 << 20


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
