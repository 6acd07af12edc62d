"""Recognising Go's module and build cache directories in hand-written cache configurations."""

from __future__ import annotations

# Substrings of the paths people cache for Go: ~/go/pkg/mod, ~/.cache/go-build, $GOMODCACHE,
# GitLab's $CI_PROJECT_DIR/.go and .cache/gomod, Windows' AppData\Local\go-build, `$(go env GOCACHE)`.
GO_CACHE_PATH_HINTS = (
    "go-build",
    "pkg/mod",
    "pkg\\mod",
    "gocache",
    "gomodcache",
    "gomod/",
    "gomod\\",
    "go env",
    "~/go",
    "/go/pkg",
    ".go/",
    "gopath",
)


def is_go_cache_path(path: str) -> bool:
    lowered = path.strip().lower()
    return lowered.rstrip("/\\").endswith(("/gomod", "\\gomod", "/.go")) or any(hint in lowered for hint in GO_CACHE_PATH_HINTS)
