"""GitHub Actions workflows: the target interface (see targets/base.py), plus the cache-flow
check across a repository's workflows (flow.py)."""

from ci_gocache.repo import RepoFacts
from ci_gocache.targets.github.flow import analyse as flow
from ci_gocache.targets.github.workflow import NAME, claims, describe, inspect, plan, verify


def repository_files(repo: RepoFacts) -> list[str]:
    """Every workflow of the repository, relative to its root: the possible savers of a cache."""
    return list(repo.workflow_files)


__all__ = ["NAME", "claims", "describe", "flow", "inspect", "plan", "repository_files", "verify"]
