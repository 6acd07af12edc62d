"""A patched pipeline runs every job in exactly the pipelines it ran in before.

gitlab-ci-local 4.65.1 (`--list`) evaluates `rules:` with the variables of each kind of pipeline:
a push to the default branch, a push to a feature branch, a merge request, a tag and a schedule.
It applies neither of the two things GitLab adds, so the test models them on top of its listing:

- `workflow:rules` decide whether the pipeline is created at all; "The workflow keyword is
  evaluated before jobs" (docs.gitlab.com/ci/yaml/workflow). The test evaluates them with
  gitlab-ci-local itself, as the rules of a probe job: no probe in the listing, no pipeline.
- a job without `rules:`, `only:` or `except:` gets `only: [branches, tags]` by default
  (gitlab-org/gitlab-foss merge request 23531, "Define the default value for only/except
  policies"), so it stays out of merge request pipelines; GitLab does not add that default when
  the pipeline has `workflow:rules` (gitlab-org/gitlab merge request 21742, "Make workflow:rules
  work well with Merge Requests"): the job then runs in every pipeline the workflow creates.
  `only:`/`except:` refs (`branches`, `tags`, `merge_requests`, `schedules`, branch names) are
  modelled the same way, since gitlab-ci-local lists such jobs everywhere.

Each pipeline is listed before and after `ci-gocache patch`, with and without workflow:rules.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from support.cli import run_cli
from support.tools import REPO, tool

FIXTURES = Path(__file__).parent / "fixtures" / "gitlab"
MEMBERSHIP = FIXTURES / "pipelines" / "membership"
TEMPLATE = REPO / "workflow_templates" / "gitlab" / "go-cache.gitlab-ci.yml"
PROBE = "ci-gocache-workflow-probe"

# Predefined variables of each kind of pipeline (CI_OPEN_MERGE_REQUESTS unset: no open MR).
PIPELINES = {
    "push to the default branch": {"CI_PIPELINE_SOURCE": "push", "CI_COMMIT_BRANCH": "main", "CI_COMMIT_REF_NAME": "main"},
    "push to a feature branch": {"CI_PIPELINE_SOURCE": "push", "CI_COMMIT_BRANCH": "feature", "CI_COMMIT_REF_NAME": "feature"},
    "merge request": {
        "CI_PIPELINE_SOURCE": "merge_request_event", "CI_COMMIT_BRANCH": "", "CI_MERGE_REQUEST_IID": "1",
        "CI_COMMIT_REF_NAME": "feature",
    },
    "tag": {"CI_PIPELINE_SOURCE": "push", "CI_COMMIT_BRANCH": "", "CI_COMMIT_TAG": "v1.0.0", "CI_COMMIT_REF_NAME": "v1.0.0"},
    "schedule": {"CI_PIPELINE_SOURCE": "schedule", "CI_COMMIT_BRANCH": "main", "CI_COMMIT_REF_NAME": "main"},
}


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=ci-gocache tests", "-c", "user.email=tests@ci-gocache.invalid", *args],
        cwd=repo, check=True, capture_output=True,
    )


def _commit(repo: Path, message: str) -> None:
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "--allow-empty", "-m", message)


def _gitlab_ci_local(repo: Path, *args: str) -> str:
    completed = subprocess.run(
        [tool("gitlab-ci-local"), "--json-schema-validation=false", *args],
        cwd=repo, capture_output=True, text=True, timeout=300, env={**os.environ, "FORCE_COLOR": "0"},
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return completed.stdout


def _listed(repo: Path, variables: dict[str, str]) -> set[str]:
    arguments = ["--list"]
    for name, value in variables.items():
        arguments += ["--variable", f"{name}={value}"]
    lines = _gitlab_ci_local(repo, *arguments).splitlines()
    start = next(index for index, line in enumerate(lines) if line.startswith("name "))
    return {line.split()[0] for line in lines[start + 1 :] if line.strip()}


def _ref_matches(refs: list[str], variables: dict[str, str]) -> bool:
    source = variables["CI_PIPELINE_SOURCE"]
    for ref in refs:
        if ref == "merge_requests" and source == "merge_request_event":
            return True
        if source == "merge_request_event":
            continue
        if ref == "branches" and variables.get("CI_COMMIT_BRANCH"):
            return True
        if ref == "tags" and variables.get("CI_COMMIT_TAG"):
            return True
        if ref in ("schedules", "pushes") and source == {"schedules": "schedule", "pushes": "push"}[ref]:
            return True
        if ref == variables.get("CI_COMMIT_REF_NAME"):
            return True
    return False


def _refs(policy: object) -> list[str]:
    if isinstance(policy, dict):
        return [str(ref) for ref in policy.get("refs", [])]
    return [str(ref) for ref in policy] if isinstance(policy, list) else []


def _in_pipeline(job: dict, variables: dict[str, str], workflow_rules: bool) -> bool:
    """GitLab's only/except, which gitlab-ci-local does not apply, for a job it lists."""
    if "rules" in job:
        return True
    only = job.get("only")
    if only is None and "except" not in job:
        only = None if workflow_rules else ["branches", "tags"]
    if only is not None and not _ref_matches(_refs(only), variables):
        return False
    return not ("except" in job and _ref_matches(_refs(job["except"]), variables))


def membership(repo: Path) -> dict[str, set[str]]:
    """The jobs of each kind of pipeline, as GitLab would create them."""
    config = YAML(typ="safe").load(_gitlab_ci_local(repo, "--preview"))
    workflow = config.get("workflow") if isinstance(config.get("workflow"), dict) else {}
    workflow_rules = workflow.get("rules")
    pipeline = repo / ".gitlab-ci.yml"
    original = pipeline.read_text()
    result: dict[str, set[str]] = {}
    try:
        if workflow_rules is not None:
            # The workflow's rules as the rules of a probe job: gitlab-ci-local evaluates them.
            probe = YAML()
            probe.default_flow_style = False
            with pipeline.open("a") as handle:
                handle.write(f"\n{PROBE}:\n  script: [\"true\"]\n  rules:\n")
                for rule in workflow_rules:
                    lines = _dump(probe, [rule]).splitlines()
                    handle.write("".join(f"    {line}\n" for line in lines))
            _commit(repo, "probe")
        for name, variables in PIPELINES.items():
            listed = _listed(repo, variables)
            if workflow_rules is not None and PROBE not in listed:
                result[name] = set()
                continue
            result[name] = {
                job for job in listed - {PROBE}
                if _in_pipeline(config.get(job, {}), variables, workflow_rules is not None)
            }
    finally:
        pipeline.write_text(original)
        _commit(repo, "without the probe")
    return result


def _dump(yaml: YAML, data: object) -> str:
    from io import StringIO

    stream = StringIO()
    yaml.dump(data, stream)
    return stream.getvalue()


def _repository(tmp_path: Path, with_workflow: bool) -> Path:
    repo = tmp_path / "project"
    shutil.copytree(FIXTURES / "module", repo)
    shutil.copy(TEMPLATE, repo / "go-cache.gitlab-ci.yml")
    head = (MEMBERSHIP / "workflow.yml").read_text() if with_workflow else ""
    (repo / ".gitlab-ci.yml").write_text(
        head + "include:\n  - local: go-cache.gitlab-ci.yml\n\n" + (MEMBERSHIP / "jobs.yml").read_text()
    )
    (repo / ".gitignore").write_text(".gitlab-ci-local/\n")
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "remote", "add", "origin", "https://gitlab.example.com/ci-gocache/fixture.git")
    _commit(repo, "fixture")
    _git(repo, "update-ref", "refs/remotes/origin/main", "HEAD")
    _git(repo, "symbolic-ref", "refs/remotes/origin/HEAD", "refs/remotes/origin/main")
    return repo


@pytest.mark.parametrize("with_workflow", [False, True], ids=["without workflow rules", "with workflow rules"])
def test_patched_jobs_run_in_the_same_pipelines(tmp_path, with_workflow):
    repo = _repository(tmp_path, with_workflow)
    before = membership(repo)
    # The model is not trivial: `test` (no rules) runs in merge request pipelines exactly when
    # the pipeline has workflow:rules, and the include template's job follows it there.
    assert ("test" in before["merge request"]) is with_workflow
    assert ("template-test" in before["merge request"]) is with_workflow
    assert "test" in before["tag"] and "release" not in before["push to a feature branch"]

    patched = run_cli("patch", ".gitlab-ci.yml", cwd=repo)
    assert patched.returncode == 0, patched.stderr
    assert re.search(r"patched \(jobs: [^)]*\btest\b", patched.stdout), patched.stdout
    _commit(repo, "ci-gocache patch")
    after = membership(repo)
    for name in PIPELINES:
        assert after[name] == before[name], f"{name}: {sorted(before[name])} before, {sorted(after[name])} after"

    text = (repo / ".gitlab-ci.yml").read_text()
    config = YAML(typ="safe").load(text)
    # No rules: next to only:, except: or start_in:, which GitLab rejects.
    for name in ("lint", "release", "later"):
        assert "rules" not in config[name], name
        assert f"job {name!r}: caches are restore-only" in patched.stderr
