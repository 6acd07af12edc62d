"""The cache service as actions/cache uses it: immutable entries scoped by git ref, looked up by exact
key, then by prefix, then by each restore key."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field


@dataclass
class CacheEntry:
    key: str
    sequence: int  # creation order: higher is newer
    position: int  # the simulated commit whose run saved it
    content: int  # bit set of the go.sum lines whose modules the entry holds


@dataclass
class _Scope:
    by_key: dict[str, CacheEntry] = field(default_factory=dict)
    sorted_keys: list[str] = field(default_factory=list)
    newest_by_prefix: dict[str, CacheEntry | None] = field(default_factory=dict)

    def newest_with_prefix(self, prefix: str) -> CacheEntry | None:
        if prefix in self.newest_by_prefix:
            return self.newest_by_prefix[prefix]
        newest: CacheEntry | None = None
        start = bisect.bisect_left(self.sorted_keys, prefix)
        for key in self.sorted_keys[start:]:
            if not key.startswith(prefix):
                break
            entry = self.by_key[key]
            if newest is None or entry.sequence > newest.sequence:
                newest = entry
        # Restore-key prefixes end with "-" and are asked for again and again: remember them.
        if prefix.endswith("-"):
            self.newest_by_prefix[prefix] = newest
        return newest

    def add(self, entry: CacheEntry) -> None:
        self.by_key[entry.key] = entry
        bisect.insort(self.sorted_keys, entry.key)
        key = entry.key
        cut = key.find("-")
        while cut >= 0:
            prefix = key[: cut + 1]
            if prefix in self.newest_by_prefix:
                self.newest_by_prefix[prefix] = entry
            cut = key.find("-", cut + 1)


class CacheService:
    """An actions/cache-like store: immutable entries, scoped by git ref."""

    def __init__(self) -> None:
        self._scopes: dict[str, _Scope] = {}
        self._sequence = 0

    def _scope(self, ref: str) -> _Scope:
        scope = self._scopes.get(ref)
        if scope is None:
            scope = self._scopes[ref] = _Scope()
        return scope

    def restore(self, key: str, restore_keys: list[str], refs: list[str]) -> tuple[str, CacheEntry | None]:
        """("exact" | "partial" | "miss", entry): own ref first, then the base branch."""
        for ref in refs:
            scope = self._scopes.get(ref)
            if scope is None:
                continue
            exact = scope.by_key.get(key)
            if exact is not None:
                return "exact", exact
            for prefix in [key, *restore_keys]:
                found = scope.newest_with_prefix(prefix)
                if found is not None:
                    return "partial", found
        return "miss", None

    def save(self, ref: str, key: str, position: int, content: int) -> bool:
        scope = self._scope(ref)
        if key in scope.by_key:
            return False
        self._sequence += 1
        scope.add(CacheEntry(key, self._sequence, position, content))
        return True

    def drop_ref(self, ref: str) -> None:
        """Forget a ref's entries (a pull request's scope, once it has merged)."""
        self._scopes.pop(ref, None)
