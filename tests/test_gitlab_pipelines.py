"""The GitLab template, the CI/CD component and a patched .gitlab-ci.yml, run by the real gitlab-ci-local.

Each test builds a git repository (with an `origin` remote, as gitlab-ci-local needs) holding a
small module that depends on github.com/google/uuid, and runs real `go build` and `go test`
under `gitlab-ci-local --shell-isolation`, which restores and saves caches like a runner:

- the first pipeline downloads the module from the Go module proxy and creates both caches;
- the second runs with GOPROXY=off: it restores the caches, `go mod download -x` fetches nothing
  and `go test` reports its result as cached;
- tag pipelines and pipelines for other branches restore but never save;
- after a go.sum change the module cache misses and the new module version is downloaded.

gitlab-ci-local 4.65.1 does not implement `fallback_keys` or `workflow:`; nothing here relies on them.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from support.cli import run_cli
from support.tools import REPO, tool

FIXTURES = Path(__file__).parent / "fixtures" / "gitlab"
TEMPLATE = REPO / "workflow_templates" / "gitlab" / "go-cache.gitlab-ci.yml"
COMPONENT = REPO / "templates" / "go-cache.yml"
UUID_1_6 = "github.com/google/uuid/@v/v1.6.0.zip"
UUID_1_5 = "github.com/google/uuid/@v/v1.5.0.zip"
GO_ENVIRONMENT = ("GOPATH", "GOMODCACHE", "GOCACHE", "GOFLAGS", "GOENV", "GOWORK", "GOTOOLCHAIN")
ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass
class Run:
    returncode: int
    output: str

    @property
    def imported(self) -> list[str]:
        return re.findall(r"imported cache '([^']+)'", self.output)

    @property
    def created(self) -> list[str]:
        return re.findall(r"cache created in '\.gitlab-ci-local/cache/([^']+)'", self.output)

    @property
    def downloads(self) -> list[str]:
        """The module zips `go mod download -x` fetched."""
        return re.findall(r"# get (https://\S+\.zip)$", self.output, re.MULTILINE)


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=ci-gocache tests", "-c", "user.email=tests@ci-gocache.invalid", *args],
        cwd=repo, check=True, capture_output=True, text=True,
    )


def _repository(tmp_path: Path, pipeline: Path, extra: dict[str, Path]) -> Path:
    repo = tmp_path / "project"
    shutil.copytree(FIXTURES / "module", repo)
    shutil.copy(pipeline, repo / ".gitlab-ci.yml")
    for relative, source in extra.items():
        (repo / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, repo / relative)
    (repo / ".gitignore").write_text(".gitlab-ci-local/\n")
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "remote", "add", "origin", "https://gitlab.example.com/ci-gocache/fixture.git")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "fixture")
    _set_default_branch(repo, "main")
    return repo


def _set_default_branch(repo: Path, branch: str) -> None:
    """What a clone records as the remote's default branch (gitlab-ci-local's CI_DEFAULT_BRANCH)."""
    _git(repo, "update-ref", f"refs/remotes/origin/{branch}", "HEAD")
    _git(repo, "symbolic-ref", "refs/remotes/origin/HEAD", f"refs/remotes/origin/{branch}")


def _gitlab_ci_local(repo: Path, *args: str) -> Run:
    environment = {name: value for name, value in os.environ.items() if name not in GO_ENVIRONMENT}
    environment["FORCE_COLOR"] = "0"
    completed = subprocess.run(
        [tool("gitlab-ci-local"), *args], cwd=repo, env=environment, capture_output=True, text=True, timeout=600
    )
    return Run(completed.returncode, ANSI.sub("", completed.stdout + completed.stderr))


def _run(repo: Path, **variables: str) -> Run:
    arguments = ["--shell-isolation"]
    for name, value in variables.items():
        arguments += ["--variable", f"{name}={value}"]
    return _gitlab_ci_local(repo, *arguments)


def _use_uuid_1_5(repo: Path) -> None:
    for name in ("go.mod", "go.sum"):
        shutil.copy(FIXTURES / "module-uuid-1.5.0" / name, repo / name)


def _module_caches(names: list[str], prefix: str) -> list[str]:
    return [name for name in names if re.fullmatch(rf"\d+_{re.escape(prefix)}-gomod-[0-9a-f]+", name)]


def _assert_cache_lifecycle(repo: Path, prefix: str, build_cache: str) -> None:
    first = _run(repo)
    assert first.returncode == 0, first.output
    assert any(url.endswith(UUID_1_6) for url in first.downloads), first.output
    assert first.imported == [], first.output
    (module_cache,) = _module_caches(first.created, prefix)
    assert build_cache in first.created, first.output

    # Second pipeline, offline: everything comes from the restored caches.
    second = _run(repo, GOPROXY="off")
    assert second.returncode == 0, second.output
    assert second.downloads == [], second.output
    assert set(second.imported) == {module_cache, build_cache}, second.output
    assert re.search(r"ok\s+example\.com/fixture\s+\(cached\)", second.output), second.output

    # A tag pipeline restores but never saves.
    tag = _run(repo, GOPROXY="off", CI_COMMIT_TAG="v1.0.0")
    assert tag.returncode == 0, tag.output
    assert set(tag.imported) == {module_cache, build_cache}, tag.output
    assert tag.created == [], tag.output

    # When the default branch is another one, this branch's pipeline only restores.
    _set_default_branch(repo, "trunk")
    other_branch = _run(repo, GOPROXY="off")
    assert other_branch.returncode == 0, other_branch.output
    assert module_cache in other_branch.imported, other_branch.output
    assert other_branch.created == [], other_branch.output
    _set_default_branch(repo, "main")

    # A go.sum change misses the module cache: the new version is downloaded, the build cache still restores.
    _use_uuid_1_5(repo)
    changed = _run(repo)
    assert changed.returncode == 0, changed.output
    assert _module_caches(changed.imported, prefix) == [], changed.output
    assert build_cache in changed.imported, changed.output
    assert any(url.endswith(UUID_1_5) for url in changed.downloads), changed.output
    (new_module_cache,) = _module_caches(changed.created, prefix)
    assert new_module_cache != module_cache


def test_template_pipeline_creates_restores_and_invalidates_caches(tmp_path):
    repo = _repository(
        tmp_path,
        FIXTURES / "pipelines" / "template" / ".gitlab-ci.yml",
        {"workflow_templates/gitlab/go-cache.gitlab-ci.yml": TEMPLATE},
    )
    _assert_cache_lifecycle(repo, "gocache-v1", "gocache-v1-gobuild-test-main")
    # GOPATH, GOMODCACHE and GOCACHE were under the project directory, where the caches were taken from.
    saved = repo / ".gitlab-ci-local" / "cache"
    assert list(saved.glob("0_gocache-v1-gomod-*/.go/pkg/mod/github.com/google/uuid@v1.6.0/uuid.go"))
    assert (saved / "gocache-v1-gobuild-test-main" / ".go-build" / "README").is_file()


def test_component_pipeline_with_inputs_creates_restores_and_invalidates_caches(tmp_path):
    repo = _repository(
        tmp_path,
        FIXTURES / "pipelines" / "component" / ".gitlab-ci.yml",
        {"templates/go-cache.yml": COMPONENT},
    )
    _assert_cache_lifecycle(repo, "fixture-v2", "fixture-v2-gobuild-test-main")
    saved = repo / ".gitlab-ci-local" / "cache"
    # The inputs moved the caches and renamed the keys; the job took its stage from the component.
    assert list(saved.glob("0_fixture-v2-gomod-*/.cache/gopath/pkg/mod/github.com/google/uuid@v1.6.0/uuid.go"))
    assert (saved / "fixture-v2-gobuild-test-main" / ".cache" / "go-build" / "README").is_file()
    listing = _gitlab_ci_local(repo, "--list")
    assert re.search(r"^test\s+check\s+on_success", listing.output, re.MULTILINE), listing.output


def _patch_and_commit(repo: Path) -> None:
    patched = run_cli("patch", cwd=repo)
    assert patched.returncode == 0, patched.stderr
    assert ".gitlab-ci.yml: patched (jobs: test)" in patched.stdout
    _git(repo, "commit", "-q", "-am", "ci-gocache patch")


def test_patched_pipeline_caches_across_runs(tmp_path):
    repo = _repository(tmp_path, FIXTURES / "pipelines" / "patched" / ".gitlab-ci.yml", {})
    _patch_and_commit(repo)

    first = _run(repo)
    assert first.returncode == 0, first.output
    assert any(url.endswith(UUID_1_6) for url in first.downloads), first.output
    (module_cache,) = _module_caches(first.created, "gocache-v1")
    build_cache = "gocache-v1-gobuild-test-main"
    # The job's own cache was kept next to the Go caches.
    assert set(first.created) == {"tools", module_cache, build_cache}, first.output

    second = _run(repo, GOPROXY="off")
    assert second.returncode == 0, second.output
    assert second.downloads == [], second.output
    assert {module_cache, build_cache} <= set(second.imported), second.output
    assert re.search(r"ok\s+example\.com/fixture\s+\(cached\)", second.output), second.output


def test_patched_pipeline_caches_where_the_job_puts_go_directories(tmp_path):
    module = FIXTURES / "module"
    repo = _repository(
        tmp_path,
        FIXTURES / "pipelines" / "own-directories" / ".gitlab-ci.yml",
        {f"app/{path.name}": path for path in module.iterdir()},
    )
    _patch_and_commit(repo)

    first = _run(repo)
    assert first.returncode == 0, first.output
    assert any(url.endswith(UUID_1_6) for url in first.downloads), first.output
    (module_cache,) = _module_caches(first.created, "gocache-v1")
    build_cache = "gocache-v1-gobuild-test-main"
    # The pipeline's hand-written Go cache (keyed on the branch, "main") was replaced by ours.
    assert set(first.created) == {module_cache, build_cache}, first.output
    saved = repo / ".gitlab-ci-local" / "cache"
    # The caches hold the directories the script exported, not ci-gocache's defaults.
    assert list(saved.glob(f"{module_cache}/.cache/gomod/github.com/google/uuid@v1.6.0/uuid.go"))
    assert (saved / build_cache / ".cache" / "go-build" / "README").is_file()

    second = _run(repo, GOPROXY="off")
    assert second.returncode == 0, second.output
    assert second.downloads == [], second.output
    assert set(second.imported) == {module_cache, build_cache}, second.output
    assert re.search(r"ok\s+example\.com/fixture\s+\(cached\)", second.output), second.output

    # Only app/go.sum is in the module key: a change to the root module's go.sum keeps the cache.
    _use_uuid_1_5(repo)
    _git(repo, "commit", "-q", "-am", "root module moves to uuid 1.5.0")
    root_changed = _run(repo, GOPROXY="off")
    assert root_changed.returncode == 0, root_changed.output
    assert module_cache in root_changed.imported, root_changed.output


UNFORMATTED = "package unformatted\nfunc  Bad( ) {\n}\n"


def test_scripts_that_walk_the_project_directory_still_pass_with_an_unformatted_module_cached(tmp_path):
    """Point 3 of issue 11: Go's caches sit in the project directory. A job whose script formats
    only tracked files is patched; one that runs `gofmt -l .` is left alone. With a module that is
    not gofmt-clean in the module cache, both still pass."""
    repo = _repository(tmp_path, FIXTURES / "pipelines" / "tree-walkers" / ".gitlab-ci.yml", {})
    patched = run_cli("patch", cwd=repo)
    assert patched.returncode == 0, patched.stderr
    assert ".gitlab-ci.yml: patched (jobs: check)" in patched.stdout
    assert "job 'format' left unchanged: its script runs `gofmt -l .`" in patched.stderr
    _git(repo, "commit", "-q", "-am", "ci-gocache patch")

    first = _run(repo)
    assert first.returncode == 0, first.output
    (module_cache,) = _module_caches(first.created, "gocache-v1")
    # A third-party module that is not gofmt-clean, as many are, now sits in the module cache.
    module = repo / ".gitlab-ci-local" / "cache" / module_cache / ".go" / "pkg" / "mod" / "example.com" / "unformatted@v1.0.0"
    module.mkdir(parents=True)
    (module / "unformatted.go").write_text(UNFORMATTED)

    second = _run(repo, GOPROXY="off")
    assert second.returncode == 0, second.output
    assert module_cache in second.imported, second.output
    # The check job had the module in its project directory, and gofmt does flag it there.
    assert "restored the unformatted module" in second.output, second.output
    assert re.search(r"unformatted@v1\.0\.0/unformatted\.go", second.output), second.output
