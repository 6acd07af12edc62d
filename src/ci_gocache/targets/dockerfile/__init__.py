"""Dockerfiles: the target interface (see targets/base.py).

The interface functions live in `patcher.py` (reading in inspection.py and build_context.py,
planning in planning.py), imported on first use, so that a run which never touches this kind of
file does not pay for loading it.
"""

from __future__ import annotations

from typing import Any

NAME = "dockerfile"
INTERFACE = ("claims", "inspect", "plan", "verify", "describe")


def __getattr__(name: str) -> Any:
    if name in INTERFACE:
        from ci_gocache.targets.dockerfile import patcher

        return getattr(patcher, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
