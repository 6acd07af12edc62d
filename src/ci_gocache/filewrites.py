"""Writing a CI file back: atomically, never through a symbolic link we did not choose, keeping
the file's owner, group, mode and hard links, and never over a change made since it was read.

Every write of a repository file goes through here; sourcefile.py reads them.
"""

from __future__ import annotations

import fcntl
import os
import secrets
import stat as stat_module
from pathlib import Path

from ci_gocache.errors import InputError
from ci_gocache.sourcefile import MAX_FILE_BYTES, DiskState, NotPatchable, read_regular_file


class ChangedOnDisk(Exception):
    """The file changed between our read and our write (another run, a `git checkout`); nothing written."""


def resolve_inside(path: Path, root: Path, shown: str) -> Path:
    """Where to read and write `path`: itself, or the target of a symbolic link when the target is
    inside the repository `root`. A link leading out of the repository, or to something that is not
    a regular file, raises NotPatchable: we never follow a link we did not choose to the outside.
    A file that disappears while it is looked at raises ChangedOnDisk."""
    if not os.path.lexists(path):
        raise InputError(shown, 1, 1, "no such file; check the path")
    real = Path(os.path.realpath(path))
    real_root = Path(os.path.realpath(root))
    if real != real_root and real_root not in real.parents:
        raise NotPatchable(
            shown,
            f"a symbolic link (itself or a folder above it) to {real}, outside the repository {real_root}; "
            "not patched, nothing read or written; patch that file where it lives, or replace the link by a file",
        )
    if not os.path.exists(real):
        try:
            target = os.readlink(path)
        except OSError:
            # Not a link, and gone since it was listed: replaced under us (a `git checkout` writes a
            # new file in its place). The caller reads it again.
            raise ChangedOnDisk() from None
        raise InputError(shown, 1, 1, f"no such file: a symbolic link to {target!r}, which does not exist; fix or remove the link")
    return real


def write_atomically(disk: DiskState, data: bytes, shown: str) -> None:
    """Replace the file `disk` describes with `data`, atomically, keeping what makes it the same file.

    - The new bytes go to a file no other name can reach: an unnamed O_TMPFILE where the system has
      it (a run killed mid-write leaves nothing), else a random name opened O_CREAT|O_EXCL|O_NOFOLLOW.
      Either way it lives in the same folder, opened through a descriptor of that folder, so no
      symbolic link in the repository can redirect it.
    - It gets the original's owner, group and mode (fchown, then fchmod) and is fsynced.
    - Under an advisory lock on the folder, the original is read again: if it is not the same file
      with the same bytes (another run, a `git checkout`), ChangedOnDisk is raised and nothing is written.
      Otherwise the new file is renamed over it and the folder is fsynced.
    - Read-only files and folders raise InputError; a file with other hard links raises NotPatchable
      (replacing it would silently split the links). The temporary file is removed on every error path.
    """
    name = disk.path.name
    folder = _open_folder(disk.path.parent, shown)
    temporary_name: str | None = None
    try:
        _refuse_unwritable(disk, folder, shown)
        descriptor, temporary_name = _new_file_in(folder, name, data, disk.stat, shown)
        fcntl.flock(folder, fcntl.LOCK_EX)
        try:
            if temporary_name is None:
                temporary_name = _name_unnamed_file(folder, name, descriptor, data, disk.stat, shown)
            else:
                os.close(descriptor)
            _check_unchanged(folder, name, disk)
            os.rename(temporary_name, name, src_dir_fd=folder, dst_dir_fd=folder)
            temporary_name = None
            os.fsync(folder)
        finally:
            fcntl.flock(folder, fcntl.LOCK_UN)
    except OSError as exc:
        raise InputError(shown, 1, 1, f"cannot write the file ({exc.strerror}); nothing written") from None
    finally:
        if temporary_name is not None:
            _remove_quietly(temporary_name, folder)
        os.close(folder)


def write_file(path: Path, data: bytes, shown: str) -> None:
    """Write a file that may not exist yet (`init`): an existing one is replaced like a patched file
    (write_atomically); a new one is written in full under a random name, then linked to its name,
    which fails rather than clobber a file that appeared meanwhile."""
    if os.path.lexists(path):
        raw, stat = read_regular_file(Path(os.path.realpath(path)), shown, MAX_FILE_BYTES, "a CI file")
        write_atomically(DiskState(Path(os.path.realpath(path)), raw, stat), data, shown)
        return
    folder = _open_folder(path.parent, shown)
    temporary_name = f".{path.name}.{secrets.token_hex(8)}.ci-gocache.tmp"
    try:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
        descriptor = os.open(temporary_name, flags, 0o600, dir_fd=folder)
        try:
            _write_all(descriptor, data)
            os.fchmod(descriptor, 0o644)
        finally:
            os.close(descriptor)
        os.link(temporary_name, path.name, src_dir_fd=folder, dst_dir_fd=folder, follow_symlinks=False)
        os.fsync(folder)
    except FileExistsError:
        raise ChangedOnDisk(path.name) from None
    except OSError as exc:
        raise InputError(shown, 1, 1, f"cannot write the file ({exc.strerror}); nothing written") from None
    finally:
        _remove_quietly(temporary_name, folder)
        os.close(folder)


def _open_folder(directory: Path, shown: str) -> int:
    """A descriptor of the folder a file is written in; every name below is opened through it."""
    try:
        return os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise InputError(shown, 1, 1, f"cannot open the folder {directory} ({exc.strerror}); nothing written") from None


def _remove_quietly(name: str, folder: int) -> None:
    """Remove a temporary file of ours, if it is still there."""
    try:
        os.unlink(name, dir_fd=folder)
    except OSError:
        pass


def _refuse_unwritable(disk: DiskState, folder: int, shown: str) -> None:
    try:
        current = os.stat(disk.path.name, dir_fd=folder, follow_symlinks=False)
    except FileNotFoundError:
        raise ChangedOnDisk(disk.path.name) from None
    if not current.st_mode & 0o222 or not os.access(disk.path.name, os.W_OK, dir_fd=folder):
        state = "read-only" if not current.st_mode & 0o222 else "not writable by this user"
        raise InputError(
            shown, 1, 1,
            f"the file is {state} (mode {stat_module.S_IMODE(current.st_mode):04o}, owner uid {current.st_uid}); "
            "nothing written; make it writable (chmod u+w) to patch it, or use --check or --dry-run",
        )
    folder_stat = os.fstat(folder)
    if not folder_stat.st_mode & 0o222 or not os.access(disk.path.parent, os.W_OK):
        state = "read-only" if not folder_stat.st_mode & 0o222 else "not writable by this user"
        raise InputError(
            shown, 1, 1,
            f"its folder {disk.path.parent} is {state} (mode {stat_module.S_IMODE(folder_stat.st_mode):04o}); "
            "nothing written; make the folder writable to patch the file, or use --check or --dry-run",
        )
    if current.st_nlink > 1:
        raise NotPatchable(
            shown,
            f"the file has {current.st_nlink} hard links; replacing it would split them, so it is not patched; "
            "break the links yourself (cp FILE FILE.new && mv FILE.new FILE) and run again, or patch with --dry-run and apply the diff",
        )


def _keep_identity(descriptor: int, original: os.stat_result, shown: str) -> None:
    """Owner and group first (chown clears set-id bits), then the mode."""
    if (original.st_uid, original.st_gid) != (os.getuid(), os.getegid()) or os.geteuid() == 0:
        try:
            os.fchown(descriptor, original.st_uid, original.st_gid)
        except PermissionError:
            raise InputError(
                shown, 1, 1,
                f"the file belongs to uid {original.st_uid} gid {original.st_gid} and a new copy could not keep that "
                "owner (only root can give files away); nothing written; run as its owner",
            ) from None
    os.fchmod(descriptor, stat_module.S_IMODE(original.st_mode))


def _write_all(descriptor: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(descriptor, view)
        view = view[written:]
    os.fsync(descriptor)


def _new_file_in(folder: int, name: str, data: bytes, original: os.stat_result, shown: str) -> tuple[int, str | None]:
    """A new file in `folder` holding `data`: unnamed (O_TMPFILE) if possible, else under a random name.
    Returns its descriptor and its name (None while unnamed)."""
    if hasattr(os, "O_TMPFILE"):
        try:
            descriptor = os.open(".", os.O_WRONLY | os.O_TMPFILE | getattr(os, "O_CLOEXEC", 0), 0o600, dir_fd=folder)
        except OSError:
            pass
        else:
            try:
                _write_all(descriptor, data)
                _keep_identity(descriptor, original, shown)
            except BaseException:
                os.close(descriptor)
                raise
            return descriptor, None
    return _new_named_file_in(folder, name, data, original, shown)


def _new_named_file_in(folder: int, name: str, data: bytes, original: os.stat_result, shown: str) -> tuple[int, str]:
    temporary_name = f".{name}.{secrets.token_hex(8)}.ci-gocache.tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    descriptor = os.open(temporary_name, flags, 0o600, dir_fd=folder)
    try:
        _write_all(descriptor, data)
        _keep_identity(descriptor, original, shown)
    except BaseException:
        os.close(descriptor)
        os.unlink(temporary_name, dir_fd=folder)
        raise
    return descriptor, temporary_name


def _name_unnamed_file(folder: int, name: str, descriptor: int, data: bytes, original: os.stat_result, shown: str) -> str:
    """Give the O_TMPFILE file a random name right before the rename (linked through /proc), or,
    where that is not possible, write a named copy."""
    temporary_name = f".{name}.{secrets.token_hex(8)}.ci-gocache.tmp"
    try:
        os.link(f"/proc/self/fd/{descriptor}", temporary_name, dst_dir_fd=folder, follow_symlinks=True)
        return temporary_name
    except OSError:
        named, temporary_name = _new_named_file_in(folder, name, data, original, shown)
        os.close(named)
        return temporary_name
    finally:
        os.close(descriptor)


def _check_unchanged(folder: int, name: str, disk: DiskState) -> None:
    """Compare before rename: still the same file (device, inode) with the same bytes."""
    try:
        descriptor = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0), dir_fd=folder)
    except OSError:
        raise ChangedOnDisk(name) from None
    try:
        now = os.fstat(descriptor)
        if (now.st_dev, now.st_ino, now.st_size) != (disk.stat.st_dev, disk.stat.st_ino, len(disk.raw)):
            raise ChangedOnDisk(name)
        chunks: list[bytes] = []
        while True:
            chunk = os.read(descriptor, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
        if b"".join(chunks) != disk.raw:
            raise ChangedOnDisk(name)
    finally:
        os.close(descriptor)
