"""A complete .gitlab-ci.yml for a Go repository that has none: what `ci-gocache init --gitlab` writes.

A repository with one module (or a go.work at the root) gets jobs that extend `.go-cache` from
the ci-gocache component, or from the include template copied into the repository. Other layouts
get one job per module and no include: the component keys on at most two fixed files, so
`ci-gocache init` runs the GitLab patcher over those jobs instead, which keys each job on the
go.sum of the module it builds.
"""

from __future__ import annotations

from dataclasses import dataclass

GITLAB_CI_PATH = ".gitlab-ci.yml"
TEMPLATE_COPY_PATH = ".gitlab/ci-gocache.gitlab-ci.yml"
COMPONENT = "gitlab.com/ci-gocache/ci-gocache/go-cache@0.1.0"
GOVULNCHECK_VERSION = "v1.1.4"
GOLANGCI_LINT_IMAGE = "golangci/golangci-lint:v2.15.0"
DOCKER_IMAGE = "docker:27"


@dataclass(frozen=True)
class PipelineLayout:
    directories: list[str]  # module directories, "." for the root
    go_version: str  # for the golang image
    uses_include: bool  # jobs extend .go-cache from the component or template


def pipeline_text(layout: PipelineLayout, include: str, lint: bool, dockerfile: str | None) -> str:
    """The pipeline; `include` is "component" or "template"."""
    lines = [
        "# Written by `ci-gocache init`. Go modules and the build cache are cached per job; only",
        "# pipelines for the default branch save them.",
    ]
    if layout.uses_include:
        if include == "component":
            lines += ["include:", f"  - component: {COMPONENT}", ""]
        else:
            lines += ["include:", f"  - local: {TEMPLATE_COPY_PATH}", ""]
    stages = ["test"] + (["package"] if dockerfile else [])
    lines += [f"stages: [{', '.join(stages)}]", ""]
    image = f"golang:{layout.go_version}"
    for directory in layout.directories:
        suffix = "" if directory == "." or len(layout.directories) == 1 else "-" + directory.replace("/", "-")
        cd = [] if directory == "." else [f"cd {directory}"]
        lines += _job(f"test{suffix}", layout, image, [*cd, "go vet ./...", "go build ./...", "go test -race ./..."])
        lines += _job(
            f"vulncheck{suffix}",
            layout,
            image,
            [*cd, f"go run golang.org/x/vuln/cmd/govulncheck@{GOVULNCHECK_VERSION} ./..."],
        )
        if lint:
            lines += _job(f"lint{suffix}", layout, GOLANGCI_LINT_IMAGE, [*cd, "golangci-lint run"])
    if dockerfile is not None:
        lines += _image_job(dockerfile)
    return "\n".join(lines).rstrip("\n") + "\n"


def _job(name: str, layout: PipelineLayout, image: str, script: list[str]) -> list[str]:
    lines = [f"{name}:"]
    if layout.uses_include:
        lines.append("  extends: .go-cache")
    lines += ["  stage: test", f"  image: {image}", "  script:"]
    lines += [f"    - {line}" for line in script]
    return lines + [""]


def _image_job(dockerfile: str) -> list[str]:
    # The image is pushed from the default branch only; other pipelines build it to check it.
    return [
        "docker-image:",
        "  stage: package",
        f"  image: {DOCKER_IMAGE}",
        "  services:",
        f"    - {DOCKER_IMAGE}-dind",
        "  variables:",
        '    DOCKER_TLS_CERTDIR: "/certs"',
        "  script:",
        '    - docker login -u "$CI_REGISTRY_USER" -p "$CI_REGISTRY_PASSWORD" "$CI_REGISTRY"',
        f'    - docker build -f {dockerfile} -t "$CI_REGISTRY_IMAGE:$CI_COMMIT_SHORT_SHA" .',
        "    - if [ \"$CI_COMMIT_BRANCH\" = \"$CI_DEFAULT_BRANCH\" ]; then docker push \"$CI_REGISTRY_IMAGE:$CI_COMMIT_SHORT_SHA\"; fi",
        "",
    ]
