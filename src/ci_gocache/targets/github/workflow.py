"""GitHub Actions workflows: find Go jobs and give them go.sum-keyed module and build caches.

inspect() reads a workflow into WorkflowFacts (positions included, inspection.py), plan() decides
the edits (planning.py, the step text in cache_steps.py), verify() parses the result again and
checks it (verification.py). Only textedit.apply_edits writes text.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from ci_gocache.targets.github.facts import WorkflowFacts

# The target interface (targets/base.py): reading in inspection.py, planning in planning.py,
# verification in verification.py; claims and description here.
from ci_gocache.targets.github.inspection import inspect
from ci_gocache.targets.github.planning import plan
from ci_gocache.targets.github.verification import OUR_STEP_IDS, verify

# bench/module_completion.py runs the module-completion script by this name.
from ci_gocache.targets.github.cache_steps import complete_modules_script as _complete_modules_script  # noqa: F401

__all__ = ["NAME", "OUR_STEP_IDS", "claims", "describe", "inspect", "plan", "verify"]

NAME = "github"


def claims(relative_path: str) -> bool:
    """A workflow GitHub runs: a YAML file directly in the repository's .github/workflows (GitHub
    reads no subfolder of it, and no .github folder below the root)."""
    directory, _, name = relative_path.replace("\\", "/").rpartition("/")
    return directory == ".github/workflows" and name.endswith((".yml", ".yaml"))


def describe(facts: WorkflowFacts) -> dict[str, Any]:
    return {
        "path": facts.path,
        "kind": "github-workflow",
        "triggers": facts.triggers,
        "publishing": facts.publishing_reasons,
        "jobs": [
            {
                "id": job.job_id,
                "line": job.line,
                "name": job.name,
                "builds_go": job.is_go,
                "why": job.go_reasons,
                "reusable_workflow": job.reusable,
                "runs_on": job.runs_on,
                "matrix": list(job.matrix.keys()),
                "container": job.container_image,
                "working_directory": job.working_directory,
                "module_directories": job.module_directories if job.is_go else [],
                "go_sum_files": job.sum_files if job.is_go else [],
                "caches": [asdict(cache) for cache in job.caches],
                "docker_builds": job.docker_builds,
                "publishing": job.publishing_reasons,
                "ci_gocache": job.already_patched,
            }
            for job in facts.jobs
        ],
    }
