"""Dockerfiles in `ci-gocache inspect`, which files are Dockerfiles, how CI builds them, and bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from support.cli import run_cli

from ci_gocache.targets import dockerfile

FIXTURES = Path(__file__).parent / "fixtures" / "docker"


def _repo(tmp_path: Path, case: str) -> Path:
    repo = tmp_path / case
    shutil.copytree(FIXTURES / case / "repo", repo)
    (repo / ".git").mkdir()
    return repo


def _findings(repo: Path) -> dict[str, list[str]]:
    result = run_cli("inspect", "--format", "json", str(repo))
    assert result.returncode == 0, result.stderr
    return {entry["path"]: entry["findings"] for entry in json.loads(result.stdout)["dockerfiles"]}


@pytest.mark.parametrize(
    "name, claimed",
    [
        ("Dockerfile", True),
        ("Dockerfile.prod", True),
        ("build/api.Dockerfile", True),
        ("Containerfile", True),
        ("deploy/Dockerfile-alpine", True),
        ("Dockerfile.dockerignore", False),
        ("docs/Dockerfile.md", False),
        ("Dockerfiles.txt", False),
        ("README.md", False),
    ],
)
def test_which_files_are_dockerfiles(name: str, claimed: bool) -> None:
    assert dockerfile.claims(name) is claimed


def test_inspect_reports_copy_order_and_missing_cache_mounts(tmp_path: Path) -> None:
    findings = _findings(_repo(tmp_path, "basic"))["Dockerfile"]
    assert any("line 6: stage build: COPY . . comes before go mod download" in finding for finding in findings)
    assert any("line 8: stage build: RUN without a cache mount for /go/pkg/mod and /root/.cache/go-build" in f for f in findings)


def test_inspect_reports_go_settings_and_uid_owned_targets(tmp_path: Path) -> None:
    findings = _findings(_repo(tmp_path, "env-user"))["Containerfile"]
    assert "line 5: stage base: GOPROXY=https://goproxy.cn,direct" in findings
    assert "line 5: stage base: GOPRIVATE=git.example.com/*" in findings
    assert "line 6: stage base: GOFLAGS=-trimpath" in findings
    # The build RUN has a secret mount, so private modules can authenticate: no such finding.
    assert not any("private modules" in finding for finding in findings)
    assert any("RUN without a cache mount for /gopath/pkg/mod and /cache/go-build" in f for f in findings)


def test_inspect_reports_private_modules_without_ssh_or_secret(tmp_path: Path) -> None:
    repo = _repo(tmp_path, "crlf")
    (repo / "Dockerfile").write_text(
        "FROM golang:1.22\nENV GOPRIVATE=github.com/acme/* GONOSUMDB=github.com/acme/*\nCOPY . .\nRUN go build ./...\n"
    )
    findings = _findings(repo)["Dockerfile"]
    assert any("private modules (GOPRIVATE=github.com/acme/*, GONOSUMDB=github.com/acme/*)" in f for f in findings)
    assert any("--mount=type=ssh or --mount=type=secret" in f for f in findings)


def test_inspect_reports_platform_args_before_download(tmp_path: Path) -> None:
    """The patch puts the download step right above COPY . .; an ARG above WORKDIR stays where
    it is (moving it would move the WORKDIR the copies depend on), and inspect says so."""
    repo = _repo(tmp_path, "workspace")
    assert run_cli("patch", cwd=repo).returncode == 0
    findings = _findings(repo)["build/api.Dockerfile"]
    assert any("ARG TARGETOS TARGETARCH is declared before go mod download" in f for f in findings)


def test_inspect_reports_builds_without_buildkit(tmp_path: Path) -> None:
    repo = _repo(tmp_path, "crlf")
    workflows = repo / ".github" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "legacy.yml").write_text(
        "on: push\njobs:\n  image:\n    runs-on: ubuntu-latest\n    env:\n      DOCKER_BUILDKIT: 0\n"
        "    steps:\n      - run: docker build -t app .\n"
    )
    (repo / ".gitlab-ci.yml").write_text(
        "image-kaniko:\n  image: gcr.io/kaniko-project/executor:debug\n  script:\n"
        "    - /kaniko/executor --context $CI_PROJECT_DIR --dockerfile $CI_PROJECT_DIR/Dockerfile --no-push\n"
    )
    findings = _findings(repo)["Dockerfile"]
    assert any(f.startswith("built without BuildKit at .github/workflows/legacy.yml:8") for f in findings), findings
    assert any(f.startswith("built with kaniko at .gitlab-ci.yml:4") for f in findings), findings


def test_kaniko_built_dockerfile_gets_copy_order_but_no_cache_mounts(tmp_path: Path) -> None:
    repo = _repo(tmp_path, "crlf")
    (repo / ".gitlab-ci.yml").write_text(
        "image:\n  image: gcr.io/kaniko-project/executor:debug\n  script:\n"
        "    - /kaniko/executor --context . --dockerfile Dockerfile --destination $CI_REGISTRY_IMAGE\n"
    )
    result = run_cli("patch", "Dockerfile", cwd=repo)
    assert result.returncode == 0, result.stderr
    assert "built with kaniko (.gitlab-ci.yml:4)" in result.stderr
    text = (repo / "Dockerfile").read_bytes()
    assert b"--mount=" not in text
    assert text == b"FROM golang:1.22\r\nWORKDIR /src\r\nCOPY go.mod go.sum ./\r\nRUN go mod download\r\nCOPY . .\r\nRUN go build -o /app .\r\n"


BAD_DOCKERFILES = {
    "unterminated heredoc": (
        "FROM golang:1.22\nRUN <<EOT\ngo build\n",
        "Dockerfile:2:1: heredoc <<EOT is never closed; add a line with just EOT",
    ),
    "unknown instruction": ("FROM golang:1.22\n  RUNN go build\n", "Dockerfile:2:3: unknown instruction 'RUNN'"),
    "no FROM": ("RUN go build\n", "Dockerfile:1:1: RUN before the first FROM"),
    "empty": ("# just a comment\n", "Dockerfile:1:1: no instructions; this is not a Dockerfile"),
    "bad escape": ("# escape=x\nFROM golang:1.22\n", "Dockerfile:1:1: escape directive 'x' is not \\ or `"),
    "FROM without image": ("FROM\nRUN go build\n", "Dockerfile:1:1: FROM without an image"),
    # BuildKit ends lines at LF only; a CR-only file is one line to it.
    "CR-only line endings": (
        "FROM golang:1.22\rCOPY . .\rRUN go build ./...\r",
        "Dockerfile:1:17: a carriage return without a line feed",
    ),
    "escape-only last line": (
        "FROM golang:1.22\nRUN go build ./...\n  \\\n",
        "Dockerfile:3:3: a line of only \\ continues into nothing at the end of the file; remove it",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_DOCKERFILES))
def test_bad_dockerfile_is_reported_at_its_place_and_left_untouched(tmp_path: Path, case: str) -> None:
    text, message = BAD_DOCKERFILES[case]
    repo = _repo(tmp_path, "crlf")
    (repo / "Dockerfile").write_text(text)
    good = repo / "sub" / "Dockerfile"
    good.parent.mkdir()
    good.write_text("FROM golang:1.22\nRUN go build ./...\n")
    result = run_cli("patch", cwd=repo)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert message in result.stderr, result.stderr
    assert (repo / "Dockerfile").read_bytes() == text.encode()
    # The other file is still processed and written.
    assert "--mount=type=cache" in good.read_text()
    assert not list(repo.rglob("*.ci-gocache.tmp"))


def test_build_push_action_in_a_checkout_path_names_the_dockerfile_and_its_context(tmp_path: Path) -> None:
    """A workflow that checks out into `release/` and builds `release/svc/Dockerfile` with
    context `release` builds svc/Dockerfile from the repository root, on a fresh builder."""
    repo = _repo(tmp_path, "basic")
    (repo / "svc").mkdir()
    (repo / "svc" / "Dockerfile").write_text("FROM golang:1.22\nWORKDIR /src\nCOPY . .\nRUN go build ./svc\n")
    workflows = repo / ".github" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "images.yml").write_text(
        '"on": push\n"jobs":\n  "image":\n    "runs-on": ubuntu-latest\n    "steps":\n'
        '    - "uses": actions/checkout@de0fac2e4500dabe0009e67214ff5f5447ce83dd\n      "with":\n        "path": release\n'
        '    - "uses": "docker/build-push-action@263435318d21b8e681c14492fe198d362a7d2c83"\n      "with":\n'
        '        "context": "release"\n        "file": "release/svc/Dockerfile"\n'
    )
    result = run_cli("inspect", "--format", "json", str(repo))
    assert result.returncode == 0, result.stderr
    (entry,) = [item for item in json.loads(result.stdout)["dockerfiles"] if item["path"].endswith("svc/Dockerfile")]
    assert entry["context"] == ""
    assert entry["modules_in_layer"] is True
    assert entry["builds"] == [{"file": ".github/workflows/images.yml", "line": 9, "tool": "build-push-action"}]
    patched = run_cli("patch", "svc/Dockerfile", cwd=repo)
    assert patched.returncode == 0, patched.stderr
    text = (repo / "svc" / "Dockerfile").read_text()
    assert "COPY go.mod go.sum ./\nRUN go mod download\nCOPY . .\n" in text
    assert "target=/go/pkg/mod" not in text and "target=/root/.cache/go-build" in text
