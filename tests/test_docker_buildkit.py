"""A full build with a real BuildKit daemon and a local registry, all built from Go modules.

.ci/install-tools builds buildkitd, buildctl, BuildKit's Dockerfile front end, buildx, runc and
a registry. The daemon runs as root with the runc worker; docker.io is mirrored to the
registry on 127.0.0.1, where the test publishes `golang:1.22` (busybox and the host's Go) and
`docker/dockerfile:1` (the front end), so the patched Dockerfile builds exactly as written.
`go mod download` reaches the Go module proxy.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from support.buildkit import BuildKit, vertex_cache_states
from support.cli import run_cli
from support.tools import tool

from ci_gocache.targets.gitlab import docker_jobs

FIXTURES = Path(__file__).parent / "fixtures"
APP_GO_MOD = "module example.com/app\n\ngo 1.22\n\nrequire github.com/google/uuid v1.6.0\n"
APP_GO_SUM = (FIXTURES / "docker" / "basic" / "repo" / "go.sum").read_text()
APP_DOCKERFILE = """\
FROM golang:1.22 AS build
WORKDIR /src
COPY . .
RUN CGO_ENABLED=0 go build -o /out/app .

FROM scratch
COPY --from=build /out/app /app
ENTRYPOINT ["/app"]
"""


def _main_go(word: str) -> str:
    return (
        'package main\n\nimport (\n\t"fmt"\n\n\t"github.com/google/uuid"\n)\n\n'
        f'func main() {{ fmt.Println(uuid.NewSHA1(uuid.NameSpaceURL, []byte("{word}"))) }}\n'
    )


@pytest.fixture(scope="module")
def buildkit():
    state = Path(tempfile.mkdtemp(prefix="cigc-bk-", dir="/tmp"))  # a short path for the socket
    kit = BuildKit(state)
    try:
        kit.start()
        kit.publish_base_images(state / "images")
        yield kit
    finally:
        kit.stop()
        shutil.rmtree(state, ignore_errors=True)


@pytest.fixture(scope="module")
def buildx(buildkit, tmp_path_factory):
    """`docker buildx ...` as a CI job runs it: a `docker` front for the buildx binary, with a
    remote builder on the test daemon (there is no Docker engine here)."""
    home = tmp_path_factory.mktemp("buildx")
    shim = home / "bin" / "docker"
    shim.parent.mkdir()
    shim.write_text('#!/bin/sh\n[ "$1" = buildx ] || { echo "docker $1: not in this test" >&2; exit 1; }\nshift\nexec "$DOCKER_BUILDX" "$@"\n')
    shim.chmod(shim.stat().st_mode | stat.S_IEXEC)
    env = {
        **buildkit.env,
        "PATH": f"{shim.parent}{os.pathsep}{buildkit.env['PATH']}",
        "DOCKER_BUILDX": tool("docker-buildx"),
        "BUILDX_CONFIG": str(home / "config"),
        "BUILDX_BUILDER": "ci-gocache-test",
        "BUILDKIT_PROGRESS": "rawjson",
    }
    created = subprocess.run(
        ["docker", "buildx", "create", "--name", "ci-gocache-test", "--driver", "remote", buildkit.socket],
        capture_output=True, text=True, env=env,
    )
    assert created.returncode == 0, created.stderr
    return env


def _app(directory: Path, word: str, dockerfile: str = APP_DOCKERFILE) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / ".git").mkdir(exist_ok=True)
    (directory / "go.mod").write_text(APP_GO_MOD)
    (directory / "go.sum").write_text(APP_GO_SUM)
    (directory / "main.go").write_text(_main_go(word))
    (directory / "Dockerfile").write_text(dockerfile)
    patched = run_cli("patch", "Dockerfile", cwd=directory)
    assert patched.returncode == 0, patched.stderr
    return directory


def _try_build(buildkit: BuildKit, app: Path, image: str, cache: str, export: bool = False) -> subprocess.CompletedProcess[str]:
    cache_options = ["--import-cache", f"type=registry,ref={cache},registry.insecure=true"]
    if export:
        cache_options += ["--export-cache", f"type=registry,ref={cache},mode=max,image-manifest=true,oci-mediatypes=true,registry.insecure=true"]
    return buildkit.buildctl(
        "build", "--progress", "rawjson", "--frontend", "dockerfile.v0", "--local", f"context={app}", "--local", f"dockerfile={app}",
        *cache_options, "--output", f"type=image,name={image},push=true,registry.insecure=true",
    )


def _build(buildkit: BuildKit, app: Path, image: str, cache: str, export: bool) -> dict[str, set[bool]]:
    result = _try_build(buildkit, app, image, cache, export)
    assert result.returncode == 0, result.stderr[-4000:] + buildkit.log_tail()
    return vertex_cache_states(result.stderr)


def _step(states: dict[str, set[bool]], text: str) -> set[bool]:
    matches = [cached for name, cached in states.items() if text in name]
    assert matches, f"no build step with {text!r} in {sorted(states)}"
    return set().union(*matches)


def test_patched_dockerfile_builds_and_the_registry_cache_skips_the_download_on_a_fresh_builder(buildkit, tmp_path):
    app = _app(tmp_path / "app", "first")
    dockerfile = (app / "Dockerfile").read_text()
    assert dockerfile.startswith("# syntax=docker/dockerfile:1\n") and "COPY go.mod go.sum ./" in dockerfile
    cache = f"{buildkit.registry}/app:buildcache"
    first = _build(buildkit, app, f"{buildkit.registry}/app:1", cache, export=True)
    assert False in _step(first, "go mod download")
    assert "buildcache" in buildkit.tags("app")
    # A fresh CI runner: nothing local, only the registry. The source changes, go.sum does not.
    pruned = buildkit.buildctl("prune", "--all")
    assert pruned.returncode == 0, pruned.stderr
    (app / "main.go").write_text(_main_go("second"))
    second = _build(buildkit, app, f"{buildkit.registry}/app:2", cache, export=False)
    assert True in _step(second, "go mod download")
    assert _step(second, "go build") == {False}


GITLAB_IMAGE_JOB = """\
image:
  image: docker:27
  services:
    - docker:27-dind
  script:
    - docker build -t "$CI_REGISTRY_IMAGE" .
    - docker push "$CI_REGISTRY_IMAGE"
"""


@pytest.mark.parametrize("ci_builds_on_fresh_builders", [True, False], ids=["layer", "mounts"])
def test_fresh_builder_with_the_registry_cache_downloads_no_module_only_with_the_modules_in_the_layer(
    buildkit, tmp_path, ci_builds_on_fresh_builders
):
    """Point 9 of issue 11: cache mounts are never exported (moby/buildkit#1474). When CI builds
    the image on a fresh builder, the patch keeps the modules in the download layer, and the
    second build on a pruned builder reads them from the registry cache: its `go build` runs
    with GOPROXY=off and succeeds. With mounts (the design for a persistent builder), the same
    build finds an empty module cache and needs the network."""
    app = tmp_path / "fresh"
    app.mkdir()
    if ci_builds_on_fresh_builders:
        (app / ".gitlab-ci.yml").write_text(GITLAB_IMAGE_JOB)
    dockerfile_text = APP_DOCKERFILE.replace("RUN CGO_ENABLED=0 go build", "RUN CGO_ENABLED=0 GOPROXY=off go build")
    _app(app, "first", dockerfile_text)
    dockerfile = (app / "Dockerfile").read_text()
    module_mounts = dockerfile.count("target=/go/pkg/mod")
    assert module_mounts == (0 if ci_builds_on_fresh_builders else 2), dockerfile
    assert "target=/root/.cache/go-build" in dockerfile, dockerfile
    name = "layer" if ci_builds_on_fresh_builders else "mounts"
    cache = f"{buildkit.registry}/{name}:buildcache"
    _build(buildkit, app, f"{buildkit.registry}/{name}:1", cache, export=True)
    assert buildkit.buildctl("prune", "--all").returncode == 0
    (app / "main.go").write_text(_main_go("second"))
    second = _try_build(buildkit, app, f"{buildkit.registry}/{name}:2", cache)
    if ci_builds_on_fresh_builders:
        assert second.returncode == 0, second.stderr[-4000:]
        assert True in _step(vertex_cache_states(second.stderr), "go mod download")
    else:
        assert second.returncode != 0
        assert "GOPROXY=off" in second.stderr, second.stderr[-4000:]


def test_gitlab_build_line_writes_the_branch_cache_and_a_merge_request_reads_the_default_branch_cache(buildkit, buildx, tmp_path):
    app = _app(tmp_path / "gl", "gitlab")
    script = docker_jobs.rewrite_script(['docker buildx build --push -t "$CI_REGISTRY_IMAGE:$CI_COMMIT_SHORT_SHA" .'])
    assert script[0] == docker_jobs.BUILDER_CREATE
    # The job's own `docker buildx create` needs a Docker engine; BUILDX_BUILDER names the test's builder.
    body = "set -eu\n" + "\n".join(script[1:]) + "\n"

    def run(ref_slug: str, source: str) -> dict[str, set[bool]]:
        env = {
            **buildx,
            "CI_REGISTRY_IMAGE": f"{buildkit.registry}/glapp",
            "CI_COMMIT_REF_SLUG": ref_slug,
            "CI_DEFAULT_BRANCH": "main",
            "CI_PIPELINE_SOURCE": source,
            "CI_COMMIT_SHORT_SHA": ref_slug,
        }
        completed = subprocess.run(["sh", "-c", body], cwd=app, capture_output=True, text=True, env=env, timeout=600)
        assert completed.returncode == 0, completed.stderr[-4000:] + buildkit.log_tail()
        return vertex_cache_states(completed.stderr)

    run("main", "push")
    assert buildkit.tags("glapp/cache") == ["main-Dockerfile"]
    assert buildkit.buildctl("prune", "--all").returncode == 0
    (app / "main.go").write_text(_main_go("feature"))
    feature = run("feature-x", "merge_request_event")
    assert True in _step(feature, "go mod download")
    assert buildkit.tags("glapp/cache") == ["main-Dockerfile"]  # a merge request pipeline writes no cache
    assert "feature-x" in buildkit.tags("glapp")


def test_cache_dance_extract_step_copies_the_builders_cache_mounts_out(buildkit, buildx, tmp_path):
    app = _app(tmp_path / "dance", "dance")
    _build(buildkit, app, f"{buildkit.registry}/dance:1", f"{buildkit.registry}/dance:buildcache", export=False)
    workflow = FIXTURES / "docker-workflows" / "dance-go-job" / "expected" / ".github" / "workflows" / "ci.yml"
    steps = YAML(typ="safe").load(workflow.read_text())["jobs"]["build"]["steps"]
    extract = next(step for step in steps if step.get("id") == "ci-gocache-docker-extract")
    runner_temp = tmp_path / "runner-temp"
    runner_temp.mkdir()
    env = {
        **buildx,
        "RUNNER_TEMP": str(runner_temp),
        "BUILDER": "ci-gocache-test",
        "UTILITY_IMAGE": f"{buildkit.registry}/library/golang:1.22",
        "BUILDKIT_PROGRESS": "plain",
    }
    completed = subprocess.run(["bash", "-e", "-c", extract["run"]], capture_output=True, text=True, env=env, timeout=600)
    assert completed.returncode == 0, completed.stderr[-4000:]
    assert any((runner_temp / "ci-gocache-docker" / "root-.cache-go-build").rglob("*-d"))
    # The host directories are the ones the save step stores and the dance injects.
    save = next(step for step in steps if step.get("id") == "ci-gocache-docker-save")
    dance = next(step for step in steps if step.get("id") == "ci-gocache-docker-dance")
    hosts = [line.replace("${{ runner.temp }}", str(runner_temp)) for line in save["with"]["path"].splitlines() if line.strip()]
    assert sorted(hosts) == sorted(key.replace("${{ runner.temp }}", str(runner_temp)) for key in json.loads(dance["with"]["cache-map"]))
    assert all(Path(host).is_dir() for host in hosts)


def test_gitlab_build_succeeds_when_the_cache_registry_refuses_the_write(buildkit, buildx, tmp_path):
    """`ignore-error=true` on --cache-to: a registry the job cannot write to (here: nothing
    listens there) costs the cache, never the build or the image push."""
    app = _app(tmp_path / "refused", "refused")
    script = docker_jobs.rewrite_script(['docker buildx build --push -t "$IMAGE" .'])
    body = "set -eu\n" + "\n".join(line for line in script if line != docker_jobs.BUILDER_CREATE) + "\n"
    env = {
        **buildx,
        "CI_REGISTRY_IMAGE": "127.0.0.1:9/nowhere",
        "IMAGE": f"{buildkit.registry}/refused:1",
        "CI_COMMIT_REF_SLUG": "main",
        "CI_DEFAULT_BRANCH": "main",
        "CI_PIPELINE_SOURCE": "push",
    }
    completed = subprocess.run(["sh", "-c", body], cwd=app, capture_output=True, text=True, env=env, timeout=600)
    assert "--cache-to type=registry,ref=127.0.0.1:9/nowhere/cache:main-Dockerfile" in body.replace("$CI_REGISTRY_IMAGE", env["CI_REGISTRY_IMAGE"]).replace("$CI_COMMIT_REF_SLUG", "main")
    assert completed.returncode == 0, completed.stderr[-4000:]
    assert buildkit.tags("refused") == ["1"]
