"""The one table of CI targets. Adding a CI system means adding a package here.

Each package names itself and loads its code on first use (see targets/github/__init__.py).
"""

from __future__ import annotations

from types import ModuleType

from ci_gocache.targets import dockerfile, github, gitlab

ALL_TARGETS: dict[str, ModuleType] = {
    github.NAME: github,
    gitlab.NAME: gitlab,
    dockerfile.NAME: dockerfile,
}


def target_claiming(relative_path: str) -> ModuleType | None:
    for target in ALL_TARGETS.values():
        if target.claims(relative_path):
            return target
    return None


def target_for_explicit_file(relative_path: str) -> ModuleType | None:
    """A file named on the command line: claimed by name, else a YAML file is taken as a workflow."""
    claimed = target_claiming(relative_path)
    if claimed is not None:
        return claimed
    if relative_path.endswith((".yml", ".yaml")):
        return github
    return None
