"""Shapes from real GitLab pipelines (issue 11): files GitLab accepts are never refused, the
workflow a pipeline has decides the added rules, includes resolve from the repository root."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from ci_gocache import sourcefile
from ci_gocache.sourcefile import compose_text, to_plain
from support.cli import run_cli

FIXTURES = Path(__file__).parent / "fixtures"

# Valid YAML 1.2 that GitLab reads and libyaml (YAML 1.1) refuses.
LIBYAML_REFUSES = {
    "flow sequence with a port": "test:\n  services: [postgres:16]\n  script: [go test ./...]\n",
    "reference to a job with a colon": ".a:b:\n  script: [go vet ./...]\ntest:\n  script: !reference [.a:b, script]\n",
}


def _every_fixture_file() -> list[Path]:
    found = sorted((FIXTURES / "gitlab").rglob("*.yml")) + sorted((FIXTURES / "gitlab").rglob("*.gitlab-ci.yml"))
    return list(dict.fromkeys(found))


def _shape(nodes: list) -> list:
    """Plain data with every node's position, to compare what two parsers read."""
    def walk(node):
        position = (node.start_mark.index, node.end_mark.index, node.start_mark.line, node.start_mark.column)
        if isinstance(node.value, list):
            children = [walk(item) if not isinstance(item, tuple) else (walk(item[0]), walk(item[1])) for item in node.value]
            return (node.tag, position, children)
        return (node.tag, position, node.value)
    return [walk(node) for node in nodes]


def test_the_fast_parser_is_installed_so_both_paths_are_tested():
    assert sourcefile.FAST_PARSER, "ruamel.yaml.clib is not installed; .ci/install-tools installs it"


@pytest.mark.parametrize("path", _every_fixture_file(), ids=lambda path: str(path.relative_to(FIXTURES)))
def test_both_parsers_read_every_gitlab_fixture_alike(path):
    """Where libyaml reads a file, it reads the same nodes at the same positions as the pure parser;
    where it refuses one, compose_text falls back to the pure parser."""
    text = path.read_text(encoding="utf-8-sig")
    pure = _shape(sourcefile._compose_all(text, pure=True))
    try:
        fast = _shape(sourcefile._compose_all(text, pure=False))
    except YAMLError:
        fast = None
    assert fast is None or fast == pure
    assert _shape(compose_text(text)) == pure


@pytest.mark.parametrize("name", sorted(LIBYAML_REFUSES))
def test_yaml_libyaml_refuses_is_read_by_the_pure_parser(name):
    text = LIBYAML_REFUSES[name]
    with pytest.raises(Exception):
        YAML(typ="safe", pure=False).compose(text)
    (document,) = compose_text(text)
    assert _shape([document]) == _shape(compose_text(text, fast=False))
    assert "test" in to_plain(document)


def _repo(tmp_path: Path, files: dict[str, str]) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    for relative, text in files.items():
        (repo / relative).parent.mkdir(parents=True, exist_ok=True)
        (repo / relative).write_text(text)
    for name in ("go.mod", "go.sum"):
        shutil.copy(FIXTURES / "gitlab" / "module" / name, repo / name)
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    return repo


@pytest.mark.parametrize("name", sorted(LIBYAML_REFUSES))
def test_files_only_libyaml_refuses_are_patched(tmp_path, name):
    repo = _repo(tmp_path, {".gitlab-ci.yml": "image: golang:1.23\n" + LIBYAML_REFUSES[name]})
    result = run_cli("patch", cwd=repo)
    assert result.returncode == 0, result.stderr
    assert "patched (jobs: test)" in result.stdout


JOB = "test:\n  image: golang:1.23\n  script:\n    - go test ./...\n"


def _rules_of_test(repo: Path) -> list | None:
    return YAML(typ="safe").load((repo / ".gitlab-ci.yml").read_text())["test"].get("rules")


@pytest.mark.parametrize(
    "template", ["Workflows/MergeRequest-Pipelines.gitlab-ci.yml", "Workflows/Branch-Pipelines.gitlab-ci.yml", "Auto-DevOps.gitlab-ci.yml"]
)
def test_a_workflows_template_read_by_name_keeps_jobs_in_merge_request_pipelines(tmp_path, template):
    repo = _repo(tmp_path, {".gitlab-ci.yml": f"include:\n  - template: {template}\n\n{JOB}"})
    result = run_cli("patch", cwd=repo)
    assert result.returncode == 0, result.stderr
    rules = _rules_of_test(repo)
    assert rules and all("merge_request_event" not in str(rule.get("if", "")) for rule in rules), rules


def test_other_templates_leave_the_default_only_in_place(tmp_path):
    repo = _repo(tmp_path, {".gitlab-ci.yml": f"include:\n  - template: Jobs/SAST.gitlab-ci.yml\n\n{JOB}"})
    assert run_cli("patch", cwd=repo).returncode == 0
    assert _rules_of_test(repo)[0] == {"if": '$CI_PIPELINE_SOURCE == "merge_request_event"', "when": "never"}


def test_workflow_rules_in_a_local_include_keep_jobs_in_merge_request_pipelines(tmp_path):
    repo = _repo(tmp_path, {
        ".gitlab-ci.yml": f"include:\n  - local: ci/workflow.yml\n\n{JOB}",
        "ci/workflow.yml": "workflow:\n  rules:\n    - if: $CI_MERGE_REQUEST_IID\n    - if: $CI_COMMIT_BRANCH\n",
    })
    assert run_cli("patch", ".gitlab-ci.yml", cwd=repo).returncode == 0
    rules = _rules_of_test(repo)
    assert all("merge_request_event" not in str(rule.get("if", "")) for rule in rules), rules


def test_an_include_that_may_set_workflow_rules_leaves_rules_alone_and_says_what_to_add(tmp_path):
    repo = _repo(tmp_path, {".gitlab-ci.yml": f"include:\n  - project: group/ci-templates\n    file: go.yml\n\n{JOB}"})
    result = run_cli("patch", cwd=repo)
    assert result.returncode == 0, result.stderr
    assert _rules_of_test(repo) is None
    assert "include project group/ci-templates:go.yml (line 2), which ci-gocache cannot read and which may set workflow:rules" in result.stderr
    assert "`- if: $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH` with `variables: {GO_CACHE_POLICY: pull-push}`" in result.stderr


def test_only_except_job_notice_says_exactly_what_to_add(tmp_path):
    repo = _repo(tmp_path, {".gitlab-ci.yml": JOB + "  only: [main]\n"})
    result = run_cli("patch", cwd=repo)
    assert result.returncode == 0, result.stderr
    assert _rules_of_test(repo) is None
    assert "GitLab rejects rules: next to them" in result.stderr
    assert "replace only:/except: with rules: that keep the same pipelines" in result.stderr


def test_included_directory_pipeline_resolves_includes_and_keys_from_the_repository_root(tmp_path):
    """engine/.gitlab-ci.yml, included by the root pipeline, includes `engine/ci/jobs.yml` by its
    path from the repository root, and its job that does `cd engine` is keyed on engine/go.sum."""
    repo = _repo(tmp_path, {
        ".gitlab-ci.yml": "include:\n  - local: engine/.gitlab-ci.yml\n",
        "engine/.gitlab-ci.yml": "include:\n  - local: engine/ci/jobs.yml\n",
        "engine/ci/jobs.yml": "engine-test:\n  image: golang:1.23\n  script:\n    - cd engine\n    - go test ./...\n",
    })
    for name in ("go.mod", "go.sum"):
        shutil.copy(FIXTURES / "gitlab" / "module" / name, repo / "engine" / name)
    result = run_cli("patch", cwd=repo)
    assert result.returncode == 0, result.stderr
    assert "does not exist" not in result.stderr
    assert "engine/ci/jobs.yml: patched (jobs: engine-test)" in result.stdout
    job = YAML(typ="safe").load((repo / "engine" / "ci" / "jobs.yml").read_text())["engine-test"]
    assert job["cache"][0]["key"]["files"] == ["engine/go.sum"]
