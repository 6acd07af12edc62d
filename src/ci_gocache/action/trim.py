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
entry may be a directory (Go 1.24+ caches executables that way).
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass

# Go refreshes an entry's mtime on use only if it is at least this old (cmd/go/internal/cache).
MTIME_INTERVAL_SECONDS = 3600
BACKDATE_SECONDS = 2 * MTIME_INTERVAL_SECONDS
# An entry whose mtime is within this of the back-dated stamp was not used (file systems
# round mtimes; a used entry is refreshed to at least the restore time, two hours later).
STAMP_SLACK_SECONDS = 60
TRIM_FILE = "trim.txt"
SUBDIRECTORIES = tuple(f"{index:02x}" for index in range(256))


@dataclass(frozen=True)
class CacheEntry:
    path: str
    mtime: float
    size: int
    is_dir: bool


@dataclass(frozen=True)
class TrimResult:
    kept_entries: int
    kept_bytes: int
    dropped_entries: int
    dropped_bytes: int


def is_entry_name(name: str) -> bool:
    return name.endswith(("-a", "-d"))


def iter_entries(cache_dir: str) -> list[CacheEntry]:
    """Every cache entry with its mtime and size (a directory entry counts its files)."""
    entries: list[CacheEntry] = []
    for subdirectory in SUBDIRECTORIES:
        try:
            listing = os.scandir(os.path.join(cache_dir, subdirectory))
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


def backdate(cache_dir: str, now: float | None = None) -> tuple[float, int]:
    """Set every entry's mtime BACKDATE_SECONDS before `now`. Returns (the stamp, entries)."""
    stamp = (time.time() if now is None else now) - BACKDATE_SECONDS
    count = 0
    for entry in iter_entries(cache_dir):
        try:
            os.utime(entry.path, (stamp, stamp), follow_symlinks=False)
        except (OSError, NotImplementedError):
            try:
                os.utime(entry.path, (stamp, stamp))
            except OSError:
                continue
        count += 1
    return stamp, count


def trim_unused(cache_dir: str, stamp: float) -> TrimResult:
    """Delete the entries still at the back-dated `stamp`: this job did not use them."""
    kept_entries = kept_bytes = dropped_entries = dropped_bytes = 0
    for entry in iter_entries(cache_dir):
        if entry.mtime <= stamp + STAMP_SLACK_SECONDS:
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
        else:
            kept_entries += 1
            kept_bytes += entry.size
    return TrimResult(kept_entries, kept_bytes, dropped_entries, dropped_bytes)


def mark_trimmed(cache_dir: str, now: float | None = None) -> None:
    """Write trim.txt as Go does (Unix seconds), so Go's own trim skips this cache for a day."""
    if not os.path.isdir(cache_dir):
        return
    seconds = int(time.time() if now is None else now)
    with open(os.path.join(cache_dir, TRIM_FILE), "w", encoding="ascii") as handle:
        handle.write(str(seconds))
