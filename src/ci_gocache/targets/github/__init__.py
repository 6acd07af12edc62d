"""GitHub Actions workflows: the target interface (see targets/base.py), plus the cache-flow
check across a repository's workflows (cacheflow.py).

The interface functions live in `workflow.py` (reading in inspection.py and module_directories.py,
planning in planning.py and cache_steps.py, checking in verification.py) and `cacheflow.py`, imported
on first use, so that a run which never touches this kind of file does not pay for loading them.
"""

from __future__ import annotations

from typing import Any

from ci_gocache.repo import RepoFacts

NAME = "github"
INTERFACE = ("claims", "inspect", "plan", "verify", "describe")


def repository_files(repo: RepoFacts) -> list[str]:
    """Every workflow of the repository, relative to its root: the possible savers of a cache."""
    return list(repo.workflow_files)


def __getattr__(name: str) -> Any:
    if name in INTERFACE:
        from ci_gocache.targets.github import workflow

        return getattr(workflow, name)
    if name == "flow":
        from ci_gocache.targets.github.cacheflow import analyse

        return analyse
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
