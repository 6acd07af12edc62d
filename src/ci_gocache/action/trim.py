"""Keep a CI build cache to what the job used. Standard library only (the action runs it).

Go marks a build-cache entry used by refreshing its mtime, but only when the mtime is at least
an hour old, and trims only entries unused for five days, at most once a day (trim.txt). A
cache that CI restores and saves every run therefore only grows. So:

1. after restore, `backdate` sets every entry's mtime two hours back: any use in this job
   now refreshes it to the present;
2. before save, `trim_unused` deletes the entries whose mtime is still the back-dated one:
   nothing in this job used them. What the build used, or created, stays.

trim.txt holds the time of Go's own last trim. `mark_trimmed` writes the present into it, both
after the restore (Go's trim would walk the whole cache for nothing: every entry is two hours
old) and before the save (the saved cache has just been trimmed).

Entries are the `<hash>-a` and `<hash>-d` names in the 256 `00`..`ff` subdirectories; a `-d`
entry may be a directory (Go 1.24+ caches executables that way). An `-a` entry names its output
(`v1 <action id> <output id> <size> <time>`): a kept `-a` entry keeps the `<output id>-d` it
names, even when Go did not refresh that output's mtime (it does not on an identical rewrite).

Only entries this job's restore brought are ever back-dated or trimmed: `keep` names the
entries that were in GOCACHE before the restore. A subdirectory or trim.txt that is a symlink
is never followed. GOCACHE/fuzz (the fuzzing corpus) is not an entry store and is left alone.
"""

from __future__ import annotations

import os
import stat
import time
from collections import namedtuple

# Neither typing nor shutil at import: the key phase, which every job runs, imports this module
# (entry_names).

# Go refreshes an entry's mtime on use only if it is at least this old (cmd/go/internal/cache).
MTIME_INTERVAL_SECONDS = 3600
BACKDATE_SECONDS = 2 * MTIME_INTERVAL_SECONDS
# An entry whose mtime is within this of the back-dated stamp was not used (file systems
# round mtimes; a used entry is refreshed to at least the restore time, two hours later).
STAMP_SLACK_SECONDS = 60
TRIM_FILE = "trim.txt"
FUZZ_DIRECTORY = "fuzz"
SUBDIRECTORIES = tuple(f"{index:02x}" for index in range(256))


class CacheEntry(namedtuple("CacheEntry", "path mtime size is_dir")):
    """path (str), mtime (float), size (int) and is_dir (bool) of one entry."""

    __slots__ = ()


class TrimResult(namedtuple("TrimResult", "kept_entries kept_bytes dropped_entries dropped_bytes kept_outputs dropped_outputs", defaults=(0, 0))):
    """Entries and bytes kept and dropped (ints); kept_outputs: stale outputs kept because a kept
    entry names them; dropped_outputs: of the dropped entries, the `-d` outputs."""

    __slots__ = ()


def is_entry_name(name: str) -> bool:
    return name.endswith(("-a", "-d"))


def _real_subdirectory(cache_dir: str, subdirectory: str) -> str | None:
    path = os.path.join(cache_dir, subdirectory)
    try:
        return path if stat.S_ISDIR(os.lstat(path).st_mode) else None
    except OSError:
        return None


def iter_entries(cache_dir: str) -> list[CacheEntry]:
    """Every cache entry with its mtime and size (a directory entry counts its files).

    A subdirectory that is a symlink is skipped: its entries are not this cache's to touch.
    """
    entries: list[CacheEntry] = []
    for subdirectory in SUBDIRECTORIES:
        path = _real_subdirectory(cache_dir, subdirectory)
        if path is None:
            continue
        try:
            listing = os.scandir(path)
        except OSError:
            continue
        with listing:
            for item in listing:
                if not is_entry_name(item.name):
                    continue
                try:
                    info = item.stat(follow_symlinks=False)
                except OSError:
                    continue
                is_dir = item.is_dir(follow_symlinks=False)
                size = directory_size(item.path)[1] if is_dir else info.st_size
                entries.append(CacheEntry(item.path, info.st_mtime, size, is_dir))
    return entries


def entry_names(cache_dir: str) -> set[str]:
    """The entries in cache_dir as `xx/<name>`, without stat calls (a snapshot before a restore)."""
    names: set[str] = set()
    for subdirectory in SUBDIRECTORIES:
        path = _real_subdirectory(cache_dir, subdirectory)
        if path is None:
            continue
        try:
            names.update(f"{subdirectory}/{name}" for name in os.listdir(path) if is_entry_name(name))
        except OSError:
            continue
    return names


def entry_name(cache_dir: str, path: str) -> str:
    return os.path.relpath(path, cache_dir).replace(os.sep, "/")


def output_entry(action_entry: str) -> str | None:
    """The `xx/<output id>-d` entry an `-a` entry names, or None if it cannot be read."""
    try:
        with open(action_entry, "rb") as handle:
            fields = handle.read(256).split()
    except OSError:
        return None
    if len(fields) < 3 or fields[0] != b"v1":
        return None
    output_id = fields[2].decode("ascii", errors="replace")
    return f"{output_id[:2]}/{output_id}-d"


def directory_size(path: str) -> tuple[int, int]:
    """(files, bytes) below path, not following symlinks; (0, 0) if it does not exist."""
    files = 0
    total = 0
    pending = [path]
    while pending:
        try:
            listing = os.scandir(pending.pop())
        except OSError:
            continue
        with listing:
            for item in listing:
                try:
                    if item.is_dir(follow_symlinks=False):
                        pending.append(item.path)
                    else:
                        files += 1
                        total += item.stat(follow_symlinks=False).st_size
                except OSError:
                    continue
    return files, total


def backdate(cache_dir: str, now: float | None = None, keep: set[str] | frozenset[str] = frozenset()) -> tuple[float, int]:
    """Set the mtime of every entry not in `keep` (`xx/<name>`) BACKDATE_SECONDS before `now`.

    Returns (the stamp, entries back-dated). Symlinks are left alone.
    """
    stamp = (time.time() if now is None else now) - BACKDATE_SECONDS
    count = 0
    for entry in iter_entries(cache_dir):
        if entry_name(cache_dir, entry.path) in keep or os.path.islink(entry.path):
            continue
        try:
            os.utime(entry.path, (stamp, stamp))
        except OSError:
            continue
        count += 1
    return stamp, count


def trim_unused(cache_dir: str, stamp: float, keep: set[str] | frozenset[str] = frozenset()) -> TrimResult:
    """Delete the entries still at the back-dated `stamp`: this job did not use them.

    Entries in `keep` (there before the restore) stay, and so does every output a kept `-a`
    entry names.
    """
    import shutil  # here, not at the top: the key phase imports this module too

    entries = iter_entries(cache_dir)
    stale = {entry.path for entry in entries if entry.mtime <= stamp + STAMP_SLACK_SECONDS}
    protected = set(keep)
    for entry in entries:
        if entry.path.endswith("-a") and (entry.path not in stale or entry_name(cache_dir, entry.path) in keep):
            named = output_entry(entry.path)
            if named is not None:
                protected.add(named)
    kept_entries = kept_bytes = dropped_entries = dropped_bytes = kept_outputs = dropped_outputs = 0
    for entry in entries:
        name = entry_name(cache_dir, entry.path)
        if entry.path in stale and name not in protected:
            try:
                if entry.is_dir:
                    shutil.rmtree(entry.path)
                else:
                    os.remove(entry.path)
            except OSError:
                kept_entries += 1
                kept_bytes += entry.size
                continue
            dropped_entries += 1
            dropped_bytes += entry.size
            dropped_outputs += entry.path.endswith("-d")
        else:
            if entry.path in stale and name not in keep:
                kept_outputs += 1
            kept_entries += 1
            kept_bytes += entry.size
    return TrimResult(kept_entries, kept_bytes, dropped_entries, dropped_bytes, kept_outputs, dropped_outputs)


def count_outputs(entries: list[CacheEntry]) -> int:
    return sum(1 for entry in entries if entry.path.endswith("-d"))


def mark_trimmed(cache_dir: str, now: float | None = None) -> None:
    """Write trim.txt as Go does (Unix seconds), so Go's own trim skips this cache for a day.

    A trim.txt that is a symlink is replaced, never written through.
    """
    if not os.path.isdir(cache_dir):
        return
    seconds = int(time.time() if now is None else now)
    path = os.path.join(cache_dir, TRIM_FILE)
    if os.path.islink(path):
        os.remove(path)
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
    try:
        descriptor = os.open(path, flags, 0o644)
    except OSError:
        return
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write(str(seconds))
