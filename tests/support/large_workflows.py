"""Generated workflows of many Go jobs, or with a huge plain `env:`, and GitLab pipelines of many
jobs, in a repository with the basic fixture's module: shared by tests and bench/large_workflows.py."""

from __future__ import annotations

import shutil
from pathlib import Path

BASIC = Path(__file__).resolve().parents[1] / "fixtures" / "github" / "basic" / "repo"
HEADER = "name: CI\non: push\npermissions:\n  contents: read\n"
GO_JOB = """\
  {name}:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
        with:
          persist-credentials: false
      - uses: actions/setup-go@v5
        with:
          go-version-file: go.mod
          cache: false
      - run: go test ./{name}/...
"""


def go_jobs_workflow(jobs: int) -> str:
    """A push workflow of this many alike Go test jobs."""
    return HEADER + "jobs:\n" + "".join(GO_JOB.format(name=f"j{index}") for index in range(jobs))


def plain_env_workflow(variables: int) -> str:
    """One Go job under a workflow `env:` of this many variables: many YAML nodes, no alias."""
    return HEADER + "env:\n" + "".join(f"  V{index}: x\n" for index in range(variables)) + "jobs:\n" + GO_JOB.format(name="test")


GITLAB_JOB = """\
{name}:
  stage: test
  image: golang:1.22
  script:
    - go test ./{name}/...
"""


def gitlab_jobs_pipeline(jobs: int) -> str:
    """A .gitlab-ci.yml of this many alike Go test jobs."""
    return "stages: [test]\n" + "".join(GITLAB_JOB.format(name=f"j{index}") for index in range(jobs))


def repo_with(root: Path, workflow: str, gitlab_pipeline: str | None = None) -> Path:
    """A repository at root with the basic fixture's go.mod and go.sum and this workflow as ci.yml
    (or, given `gitlab_pipeline`, that as .gitlab-ci.yml and no workflow)."""
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(BASIC / "go.mod", root / "go.mod")
    shutil.copy(BASIC / "go.sum", root / "go.sum")
    if gitlab_pipeline is not None:
        (root / ".gitlab-ci.yml").write_text(gitlab_pipeline)
        return root
    (root / ".github" / "workflows").mkdir(parents=True)
    (root / ".github" / "workflows" / "ci.yml").write_text(workflow)
    return root
