"""The GitLab include template shipped with the package (workflow_templates/gitlab/ holds the same file)."""

from __future__ import annotations

from importlib import resources

INCLUDE_TEMPLATE = "go-cache.gitlab-ci.yml"


def include_template() -> str:
    return resources.files("ci_gocache.targets.gitlab").joinpath(INCLUDE_TEMPLATE).read_text(encoding="utf-8")
