"""A stand-in for the GitHub Actions cache service: tarballs in a local folder.

It matches keys the way actions/cache documents it:

1. an entry whose key equals `key`, ignoring case (the service compares keys case-insensitively
   and answers with the key as it was saved);
2. else the newest entry whose key starts with `key`;
3. else, for each restore key in order, the newest entry whose key starts with it.

Only entries saved with the same paths match (actions/cache's "version" hashes the paths and
the compression method). A key can be saved once; a second save of it is refused, as
actions/cache refuses to reserve a key that exists. Restore outputs are those of
actions/cache/restore: cache-hit ('true' exact, 'false' partial, unset on a miss),
cache-primary-key and cache-matched-key; `lookup-only: true` answers without extracting.
Used by the action tests and by bench/.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class StoredCache:
    key: str
    version: str
    created: int  # a counter: the newest entry has the largest
    archive: str
    size: int


def cache_version(paths: list[str]) -> str:
    return hashlib.sha256("|".join([*paths, "tar", "1.0"]).encode()).hexdigest()


def input_lines(value: str) -> list[str]:
    return [line.strip() for line in value.splitlines() if line.strip()]


class CacheStore:
    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.index_file = self.directory / "index.json"
        self.log: list[str] = []

    # ------------------------------------------------------------ index

    def entries(self) -> list[StoredCache]:
        if not self.index_file.exists():
            return []
        return [StoredCache(**entry) for entry in json.loads(self.index_file.read_text())]

    def _write_index(self, entries: list[StoredCache]) -> None:
        self.index_file.write_text(json.dumps([entry.__dict__ for entry in entries], indent=1))

    def find(self, paths: list[str], key: str, restore_keys: list[str]) -> StoredCache | None:
        version = cache_version(paths)
        candidates = [entry for entry in self.entries() if entry.version == version]
        for entry in candidates:
            if entry.key.lower() == key.lower():
                return entry
        for prefix in [key, *restore_keys]:
            matching = [entry for entry in candidates if entry.key.startswith(prefix)]
            if matching:
                return max(matching, key=lambda entry: entry.created)
        return None

    # ------------------------------------------------------------ the two actions

    def restore(self, with_inputs: dict[str, str]) -> dict[str, str]:
        """What actions/cache/restore does with these `with:` inputs; returns its outputs."""
        paths = input_lines(with_inputs["path"])
        key = with_inputs["key"].strip()
        restore_keys = input_lines(with_inputs.get("restore-keys", ""))
        outputs = {"cache-primary-key": key}
        entry = self.find(paths, key, restore_keys)
        if entry is None:
            self.log.append(f"Cache not found for input keys: {', '.join([key, *restore_keys])}")
            return outputs
        if with_inputs.get("lookup-only", "").strip() == "true":
            self.log.append(f"Cache found and can be restored from key: {entry.key}")
            outputs["cache-hit"] = "true" if entry.key.lower() == key.lower() else "false"
            outputs["cache-matched-key"] = entry.key
            return outputs
        started = time.monotonic()
        with tarfile.open(entry.archive) as archive:
            members = archive.getmembers()
            for index, path in enumerate(paths):
                target = Path(os.path.expanduser(path))
                target.mkdir(parents=True, exist_ok=True)
                prefix = f"{index}/"
                chosen = []
                for member in members:
                    if member.name.startswith(prefix):
                        member.name = member.name[len(prefix):]
                        chosen.append(member)
                extract = {"filter": "fully_trusted"} if hasattr(tarfile, "data_filter") else {}
                archive.extractall(target, members=chosen, **extract)
        self.log.append(
            f"Cache restored from key: {entry.key} ({entry.size} B in {time.monotonic() - started:.2f} s)"
        )
        outputs["cache-hit"] = "true" if entry.key.lower() == key.lower() else "false"
        outputs["cache-matched-key"] = entry.key
        return outputs

    def reserve(self, key: str, paths: list[str]) -> None:
        """Another job reserved `key` and has not finished uploading: saves of it are refused,
        and lookups do not find it yet (as the cache service does)."""
        reserved = self.directory / "reserved.json"
        keys = json.loads(reserved.read_text()) if reserved.exists() else []
        reserved.write_text(json.dumps([*keys, [key.lower(), cache_version(paths)]]))

    def _reserved(self, key: str, version: str) -> bool:
        reserved = self.directory / "reserved.json"
        return reserved.exists() and [key.lower(), version] in json.loads(reserved.read_text())

    def save(self, with_inputs: dict[str, str]) -> dict[str, str]:
        """What actions/cache/save does: refuses an existing or reserved key, or missing paths,
        with a warning only (the step still succeeds)."""
        paths = input_lines(with_inputs["path"])
        key = with_inputs["key"].strip()
        version = cache_version(paths)
        entries = self.entries()
        if self._reserved(key, version) or any(entry.key.lower() == key.lower() and entry.version == version for entry in entries):
            self.log.append(f"Failed to save: Unable to reserve cache with key {key}, another job may be creating this cache.")
            return {}
        if not any(Path(os.path.expanduser(path)).exists() for path in paths):
            self.log.append("Path Validation Error: Path(s) specified in the action for caching do(es) not exist, hence no cache is being saved.")
            return {}
        created = max((entry.created for entry in entries), default=0) + 1
        archive = self.directory / f"{created:05d}.tar"
        with tarfile.open(archive, "w") as handle:
            for index, path in enumerate(paths):
                source = Path(os.path.expanduser(path))
                if source.exists():
                    handle.add(source, arcname=str(index))
        entry = StoredCache(key, version, created, str(archive), archive.stat().st_size)
        self._write_index([*entries, entry])
        self.log.append(f"Cache saved with key: {key} ({entry.size} B)")
        return {}

    def size(self, key: str) -> int:
        return next(entry.size for entry in self.entries() if entry.key == key)

    def copy_to(self, directory: Path) -> "CacheStore":
        shutil.copytree(self.directory, directory)
        clone = CacheStore(directory)
        clone._write_index(
            [StoredCache(e.key, e.version, e.created, str(Path(directory) / Path(e.archive).name), e.size) for e in self.entries()]
        )
        return clone
