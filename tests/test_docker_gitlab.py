"""GitLab jobs that run `docker build`: rewritten to buildx with a registry cache.

The shell text is checked by running it in a real `sh`, the YAML by check-jsonschema's GitLab
schema and by gitlab-ci-local, GitLab's pipeline parser re-implemented. The build itself runs
against a real BuildKit daemon in tests/test_docker_buildkit.py.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from support.tools import tool

from ci_gocache.targets.gitlab import docker_jobs
from ci_gocache.sourcefile import compose_graphs, mapping_get, read_source, to_plain
from ci_gocache.textedit import apply_edits

PUSHING_JOB = [
    'docker login -u "$CI_REGISTRY_USER" -p "$CI_REGISTRY_PASSWORD" "$CI_REGISTRY"',
    'docker build --build-arg GO_VERSION=1.22 -t "$CI_REGISTRY_IMAGE:$CI_COMMIT_SHORT_SHA" .',
    'docker push "$CI_REGISTRY_IMAGE:$CI_COMMIT_SHORT_SHA"',
]

GITLAB_FILE = """\
stages: [build]

image-build:
  stage: build
  image: docker:27
  services:
    - docker:27-dind
  script:
    - docker login -u "$CI_REGISTRY_USER" -p "$CI_REGISTRY_PASSWORD" "$CI_REGISTRY"
    # build the image
    - docker build --build-arg GO_VERSION=1.22 -t "$CI_REGISTRY_IMAGE:$CI_COMMIT_SHORT_SHA" .
    - 'docker push "$CI_REGISTRY_IMAGE:$CI_COMMIT_SHORT_SHA"'

test-image:
  stage: build
  image: docker:27
  services:
    - docker:27-dind
  before_script:
    - "docker build -t \\"app:test\\" ."
  script:
    - |
      docker image build \\
        --target test -t app:test .
      docker run --rm app:test

cached:
  stage: build
  script:
    - docker buildx build --cache-from type=registry,ref=x/cache --cache-to type=registry,ref=x/cache --push -t x .
"""


def test_pushing_job_gets_builder_cache_from_both_refs_cache_to_and_keeps_its_words() -> None:
    rewritten = docker_jobs.rewrite_script(PUSHING_JOB)
    assert rewritten[0] == PUSHING_JOB[0]
    assert rewritten[1] == "docker buildx create --use --driver docker-container"
    assert rewritten[2] == docker_jobs.CACHE_TO_ASSIGNMENT
    assert rewritten[3] == (
        "docker buildx build"
        " --cache-from type=registry,ref=$CI_REGISTRY_IMAGE/cache:$CI_COMMIT_REF_SLUG-Dockerfile"
        " --cache-from type=registry,ref=$CI_REGISTRY_IMAGE/cache:$CI_DEFAULT_BRANCH-Dockerfile"
        " ${CI_GOCACHE_CACHE_TO:+--cache-to type=registry,ref=$CI_REGISTRY_IMAGE/cache:$CI_COMMIT_REF_SLUG-Dockerfile,"
        "mode=max,image-manifest=true,ignore-error=true}"
        " --load"
        ' --build-arg GO_VERSION=1.22 -t "$CI_REGISTRY_IMAGE:$CI_COMMIT_SHORT_SHA" .'
    )
    assert rewritten[4] == PUSHING_JOB[2]


def test_job_that_does_not_push_reads_the_cache_only() -> None:
    rewritten = docker_jobs.rewrite_script(["docker build -t app:test .", "docker run --rm app:test"])
    assert rewritten == [
        "docker buildx create --use --driver docker-container",
        "docker buildx build --cache-from type=registry,ref=$CI_REGISTRY_IMAGE/cache:$CI_COMMIT_REF_SLUG-Dockerfile"
        " --cache-from type=registry,ref=$CI_REGISTRY_IMAGE/cache:$CI_DEFAULT_BRANCH-Dockerfile --load -t app:test .",
        "docker run --rm app:test",
    ]


def test_buildx_push_needs_no_load_and_keeps_push() -> None:
    rewritten = docker_jobs.rewrite_script(["docker buildx build --push -t $CI_REGISTRY_IMAGE ."])
    assert rewritten[-1].endswith("ignore-error=true} --push -t $CI_REGISTRY_IMAGE .")
    assert "--load" not in rewritten[-1]


def test_rewriting_twice_changes_nothing_and_cached_builds_stay() -> None:
    once = docker_jobs.rewrite_script(PUSHING_JOB)
    assert docker_jobs.rewrite_script(once) == once
    cached = ["docker buildx build --cache-from type=registry,ref=x/cache --cache-to type=registry,ref=x/cache --push -t x ."]
    assert docker_jobs.rewrite_script(cached) == cached


def _words(script: list[str], pipeline_source: str, **extra: str) -> list[str]:
    """The arguments the rewritten build line passes to `docker`, as a real sh expands them."""
    program = "\n".join(script).replace("docker buildx build", 'printf "%s\\n"', 1)
    program = "\n".join(line for line in program.splitlines() if not line.startswith("docker "))
    completed = subprocess.run(
        ["sh", "-eu", "-c", program],
        capture_output=True,
        text=True,
        env={
            "PATH": "/usr/bin:/bin",
            "CI_PIPELINE_SOURCE": pipeline_source,
            "CI_REGISTRY_IMAGE": "registry.example.com/acme/app",
            "CI_COMMIT_REF_SLUG": "feature-x",
            "CI_DEFAULT_BRANCH": "main",
            "CI_COMMIT_SHORT_SHA": "abc123",
            **extra,
        },
    )
    assert completed.returncode == 0, completed.stderr
    return completed.stdout.splitlines()


def test_cache_to_is_written_on_push_pipelines_and_left_out_of_merge_requests() -> None:
    script = docker_jobs.rewrite_script(PUSHING_JOB)
    on_push = _words(script, "push")
    assert on_push[:6] == [
        "--cache-from",
        "type=registry,ref=registry.example.com/acme/app/cache:feature-x-Dockerfile",
        "--cache-from",
        "type=registry,ref=registry.example.com/acme/app/cache:main-Dockerfile",
        "--cache-to",
        "type=registry,ref=registry.example.com/acme/app/cache:feature-x-Dockerfile,mode=max,image-manifest=true,ignore-error=true",
    ]
    assert on_push[6:] == ["--load", "--build-arg", "GO_VERSION=1.22", "-t", "registry.example.com/acme/app:abc123", "."]
    on_merge_request = _words(script, "merge_request_event")
    assert "--cache-to" not in on_merge_request
    assert on_merge_request[4:] == on_push[6:]


def test_tag_pipelines_read_the_cache_and_write_none() -> None:
    """A tag's ref slug names a ref no later pipeline reads; the branch refs stay as they are."""
    script = docker_jobs.rewrite_script(PUSHING_JOB)
    on_tag = _words(script, "push", CI_COMMIT_TAG="v1.2.3", CI_COMMIT_REF_SLUG="v1-2-3")
    assert "--cache-to" not in on_tag
    assert "type=registry,ref=registry.example.com/acme/app/cache:main-Dockerfile" in on_tag


def test_images_built_in_a_loop_or_from_other_dockerfiles_get_their_own_cache_refs() -> None:
    loop = 'for service in api worker; do docker build -f "services/$service/Dockerfile" --target prod -t "app-$service" .; done'
    script = docker_jobs.rewrite_script([loop, "docker build -f build/Dockerfile.tools -t tools .", "docker push app-api"])
    program = "\n".join(script).replace("docker buildx build", 'printf "%s\\n"')
    program = "\n".join(line for line in program.splitlines() if not line.startswith("docker "))
    completed = subprocess.run(
        ["sh", "-eu", "-c", program],
        capture_output=True, text=True,
        env={"PATH": "/usr/bin:/bin", "CI_PIPELINE_SOURCE": "push", "CI_REGISTRY_IMAGE": "r.example/app",
             "CI_COMMIT_REF_SLUG": "main", "CI_DEFAULT_BRANCH": "main", "CI_COMMIT_TAG": ""},
    )
    assert completed.returncode == 0, completed.stderr
    words = completed.stdout.splitlines()
    written = [words[position + 1] for position, word in enumerate(words) if word == "--cache-to"]
    assert written == [
        "type=registry,ref=r.example/app/cache:main-services-api-Dockerfile-prod,mode=max,image-manifest=true,ignore-error=true",
        "type=registry,ref=r.example/app/cache:main-services-worker-Dockerfile-prod,mode=max,image-manifest=true,ignore-error=true",
        "type=registry,ref=r.example/app/cache:main-build-Dockerfile.tools,mode=max,image-manifest=true,ignore-error=true",
    ]


@pytest.mark.parametrize(
    "image, variables, script, left_alone",
    [
        ("docker:27", {}, [], ""),
        ("docker:23.0.6-cli", {}, [], ""),
        ("docker", {}, [], ""),
        ("${CI_DEPENDENCY_PROXY_GROUP_IMAGE_PREFIX}/docker:26-dind", {}, [], ""),
        ("$DOCKER_IMAGE", {"DOCKER_IMAGE": "docker:25"}, [], ""),
        ("docker:20.10.16", {}, [], "predates Docker 23"),
        ("docker:stable", {}, [], "predates Docker 23"),
        ("docker:19.03-dind", {}, [], "predates Docker 23"),
        ("alpine:3.20", {}, [], "not a docker image known to include buildx"),
        (None, {}, [], "its image is not set in this file"),
        ("docker:27", {"DOCKER_BUILDKIT": "0"}, [], "DOCKER_BUILDKIT=0"),
        ("docker:27", {}, ["DOCKER_BUILDKIT=0 docker build -t app ."], "DOCKER_BUILDKIT=0"),
    ],
)
def test_only_images_with_buildx_get_the_rewrite(image, variables, script, left_alone) -> None:
    reason = docker_jobs.buildx_unavailable(image, variables, script)
    assert (left_alone in reason) if left_alone else reason == ""


def test_job_without_buildx_is_left_alone_with_a_notice(tmp_path: Path) -> None:
    from support.cli import run_cli

    text = (
        "old-engine:\n  image: docker:20.10\n  services:\n    - docker:20.10-dind\n  script:\n"
        "    - docker build -t app .\n    - docker push app\n"
        "legacy:\n  image: docker:27\n  variables:\n    DOCKER_BUILDKIT: 0\n  script:\n    - docker build -t app .\n"
        "current:\n  image: docker:27\n  script:\n    - docker build -f other/Dockerfile -t other .\n"
    )
    (tmp_path / ".git").mkdir()
    (tmp_path / ".gitlab-ci.yml").write_text(text)
    result = run_cli("patch", ".gitlab-ci.yml", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert ".gitlab-ci.yml:1:1: job 'old-engine': its `docker build` is left as written: its image docker:20.10 predates Docker 23" in result.stderr
    assert "job 'legacy': its `docker build` is left as written: it sets DOCKER_BUILDKIT=0" in result.stderr
    patched = (tmp_path / ".gitlab-ci.yml").read_text()
    assert patched.startswith(text[: text.index("current:")])
    assert "docker buildx build --cache-from type=registry,ref=$CI_REGISTRY_IMAGE/cache:$CI_COMMIT_REF_SLUG-other-Dockerfile" in patched


def test_rewritten_entries_pass_shellcheck() -> None:
    script = docker_jobs.rewrite_script(PUSHING_JOB)
    completed = subprocess.run(
        [tool("shellcheck"), "-s", "sh", "-S", "warning", "-"],
        input="#!/bin/sh\n" + "\n".join(script) + "\n",
        capture_output=True,
        text=True,
    )
    assert completed.returncode == 0, completed.stdout


def _patch_file(path: Path) -> str:
    source = read_source(path)
    root = compose_graphs(source)[0].root
    edits = []
    for job in ("image-build", "test-image", "cached"):
        job_node = mapping_get(root, job)
        nodes = [node for node in (mapping_get(job_node, "before_script"), mapping_get(job_node, "script")) if node is not None]
        effective = [entry for node in nodes for entry in to_plain(node)]
        job_edits = docker_jobs.job_script_edits(source.text, source.newline, nodes, effective)
        assert job_edits is not None
        edits.extend(job_edits)
    return apply_edits(source.text, edits)


def _preview(directory: Path) -> dict:
    completed = subprocess.run(
        [shutil.which("gitlab-ci-local") or tool("gitlab-ci-local"), "--preview"],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return YAML(typ="safe").load(completed.stdout[completed.stdout.index("---") :])


def test_yaml_edits_keep_the_file_valid_and_gitlab_reads_the_rewritten_script(tmp_path: Path) -> None:
    original = tmp_path / "original"
    patched = tmp_path / "patched"
    for directory in (original, patched):
        directory.mkdir()
        subprocess.run(["git", "init", "-q", "-b", "main"], cwd=directory, check=True)
        (directory / ".gitlab-ci.yml").write_text(GITLAB_FILE)
    new_text = _patch_file(patched / ".gitlab-ci.yml")
    (patched / ".gitlab-ci.yml").write_text(new_text)
    schema = subprocess.run(
        [tool("check-jsonschema"), "--builtin-schema", "vendor.gitlab-ci", str(patched / ".gitlab-ci.yml")],
        capture_output=True,
        text=True,
    )
    assert schema.returncode == 0, schema.stdout
    before, after = _preview(original), _preview(patched)
    for job in ("image-build", "test-image", "cached"):
        whole_before = before[job].get("before_script", []) + before[job]["script"]
        whole_after = after[job].get("before_script", []) + after[job]["script"]
        assert whole_after == docker_jobs.rewrite_script(whole_before), job
    assert after["cached"] == before["cached"]
    # Outside the script entries the file is byte for byte the same.
    assert new_text.startswith(GITLAB_FILE[: GITLAB_FILE.index("    - docker build")])
    assert new_text.endswith(GITLAB_FILE[GITLAB_FILE.index("\ncached:") :])
    # And a second pass finds nothing to do.
    assert _patch_file(patched / ".gitlab-ci.yml") == new_text
