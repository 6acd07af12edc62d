"""GitLab CI files: the target interface (see targets/base.py).

The interface functions live in `pipeline.py` (reading in loading.py and facts.py, planning in
planning.py, cache_settings.py and yaml_edits.py), imported on first use, so that a run which
never touches this kind of file does not pay for loading it.
"""

from __future__ import annotations

from typing import Any

NAME = "gitlab"
INTERFACE = ("claims", "inspect", "plan", "verify", "describe")


def __getattr__(name: str) -> Any:
    if name in INTERFACE:
        from ci_gocache.targets.gitlab import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
