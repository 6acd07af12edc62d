"""A complete Go workflow for a repository that has none: the skeleton `ci-gocache init` writes.

The skeleton holds no caching of its own: `ci-gocache init` runs the GitHub patcher over it, so
emitted and patched workflows cache the same way and `patch --check` on the result changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from ci_gocache.pins import pinned_uses
from ci_gocache.repo import RepoFacts

WORKFLOW_PATH = ".github/workflows/go.yml"
GOVULNCHECK_VERSION = "v1.1.4"
GOLANGCI_LINT_VERSION = "v2.15.0"
RUNNERS = {"linux": "ubuntu-latest", "windows": "windows-latest", "macos": "macos-latest"}
LINT_CONFIGS = (".golangci.yml", ".golangci.yaml", ".golangci.toml", ".golangci.json")
DEFAULT_BRANCH_PUSH = (
    "github.event_name == 'push' && github.ref == format('refs/heads/{0}', github.event.repository.default_branch)"
)


@dataclass(frozen=True)
class GoLayout:
    """What the jobs build: the module directories and the file setup-go reads the Go version from."""

    kind: str  # single | workspace | modules
    directories: list[str]
    go_version_file: str

    @property
    def matrix(self) -> bool:
        return self.kind != "single"


def go_layout(repo: RepoFacts) -> GoLayout | None:
    """One module, a go.work at the root with its modules, or independent modules (each its own job)."""
    workspace = next((w for w in repo.workspaces if w.directory == ""), None)
    if workspace is not None and workspace.uses:
        directories = [use.strip("./") or "." for use in workspace.uses]
        return GoLayout("workspace", directories, "go.work")
    modules = sorted(module.directory or "." for module in repo.modules)
    if not modules:
        return None
    if modules == ["."]:
        return GoLayout("single", ["."], "go.mod")
    return GoLayout("modules", modules, "${{ matrix.module }}/go.mod")


def lint_config(repo: RepoFacts) -> str | None:
    return next((name for name in LINT_CONFIGS if (repo.root / name).is_file()), None)


def workflow_text(
    repo: RepoFacts,
    layout: GoLayout,
    default_branch: str,
    operating_systems: list[str],
    dockerfile: str | None,
) -> str:
    """The workflow, before caching. `default_branch` may be GitHub's `$default-branch` placeholder."""
    lines = [
        "# Written by `ci-gocache init`. Go modules and the build cache are cached by the steps",
        "# ci-gocache adds; caches are saved only by pushes to the default branch.",
        "name: Go",
        "",
        "on:",
        "  push:",
        f"    branches: [{_quoted(default_branch)}]",
        "  pull_request:",
        "  workflow_dispatch:",
        "",
        "permissions:",
        "  contents: read",
        "",
        "# A newer push to the same branch or pull request cancels the run it makes obsolete.",
        "concurrency:",
        "  group: ${{ github.workflow }}-${{ github.ref }}",
        "  cancel-in-progress: ${{ github.event_name == 'pull_request' }}",
        "",
        "jobs:",
    ]
    lines += _test_job(layout, operating_systems)
    config = lint_config(repo)
    if config is not None:
        lines += [""] + _lint_job(layout)
    lines += [""] + _vulncheck_job(layout)
    if dockerfile is not None:
        lines += [""] + _image_job(dockerfile)
    return "\n".join(lines) + "\n"


def _quoted(branch: str) -> str:
    return f"'{branch}'" if branch.startswith("$") else branch


def _checkout_and_setup(layout: GoLayout) -> list[str]:
    return [
        f"      - uses: {pinned_uses('actions/checkout')}",
        "        with:",
        "          persist-credentials: false",
        f"      - uses: {pinned_uses('actions/setup-go')}",
        "        with:",
        f"          go-version-file: {layout.go_version_file}",
    ]


def _matrix_lines(layout: GoLayout, operating_systems: list[str]) -> list[str]:
    dimensions = []
    if len(operating_systems) > 1:
        dimensions.append(f"        os: [{', '.join(RUNNERS[name] for name in operating_systems)}]")
    if layout.matrix:
        dimensions.append(f"        module: [{', '.join(layout.directories)}]")
    if not dimensions:
        return []
    return ["    strategy:", "      fail-fast: false", "      matrix:", *dimensions]


def _working_directory(layout: GoLayout) -> list[str]:
    if not layout.matrix:
        return []
    return ["    defaults:", "      run:", "        working-directory: ${{ matrix.module }}"]


def _runs_on(operating_systems: list[str]) -> str:
    if len(operating_systems) > 1:
        return "    runs-on: ${{ matrix.os }}"
    return f"    runs-on: {RUNNERS[operating_systems[0]]}"


def _test_job(layout: GoLayout, operating_systems: list[str]) -> list[str]:
    lines = ["  test:", "    name: Test", _runs_on(operating_systems)]
    lines += _matrix_lines(layout, operating_systems)
    lines += _working_directory(layout)
    lines += ["    steps:", *_checkout_and_setup(layout)]
    lines += [
        "      - name: Vet",
        "        run: go vet ./...",
        "      - name: Build",
        "        run: go build ./...",
    ]
    # The race detector needs cgo, and so a C compiler: Linux and macOS runners have one on PATH.
    if operating_systems == ["windows"]:
        lines += ["      - name: Test", "        run: go test ./..."]
    elif "windows" in operating_systems:
        lines += [
            "      - name: Test",
            "        if: runner.os != 'Windows'",
            "        run: go test -race ./...",
            "      - name: Test (Windows, no race detector)",
            "        if: runner.os == 'Windows'",
            "        run: go test ./...",
        ]
    else:
        lines += ["      - name: Test", "        run: go test -race ./..."]
    return lines


def _lint_job(layout: GoLayout) -> list[str]:
    lines = ["  lint:", "    name: Lint", "    runs-on: ubuntu-latest"]
    lines += _matrix_lines(layout, ["linux"])
    lines += ["    steps:", *_checkout_and_setup(layout)]
    lines += [
        f"      - uses: {pinned_uses('golangci/golangci-lint-action')}",
        "        with:",
        f"          version: {GOLANGCI_LINT_VERSION}",
    ]
    if layout.matrix:
        lines.append("          working-directory: ${{ matrix.module }}")
    return lines


def _vulncheck_job(layout: GoLayout) -> list[str]:
    lines = ["  vulncheck:", "    name: Vulnerabilities", "    runs-on: ubuntu-latest"]
    lines += _matrix_lines(layout, ["linux"])
    lines += _working_directory(layout)
    lines += ["    steps:", *_checkout_and_setup(layout)]
    lines += [
        "      - name: govulncheck",
        f"        run: go run golang.org/x/vuln/cmd/govulncheck@{GOVULNCHECK_VERSION} ./...",
    ]
    return lines


def _image_job(dockerfile: str) -> list[str]:
    return [
        "  image:",
        "    name: Image",
        "    needs: test",
        "    runs-on: ubuntu-latest",
        "    permissions:",
        "      contents: read  # to check out the code",
        "      packages: write  # to push the image to GHCR from the default branch",
        "    steps:",
        f"      - uses: {pinned_uses('actions/checkout')}",
        "        with:",
        "          persist-credentials: false",
        f"      - uses: {pinned_uses('docker/setup-buildx-action')}",
        "      - name: Log in to GitHub Container Registry",
        f"        if: {DEFAULT_BRANCH_PUSH}",
        f"        uses: {pinned_uses('docker/login-action')}",
        "        with:",
        "          registry: ghcr.io",
        "          username: ${{ github.actor }}",
        "          password: ${{ secrets.GITHUB_TOKEN }}",
        "      - name: Image name",
        "        id: image",
        "        # GHCR image names are lowercase; GITHUB_REPOSITORY may not be.",
        '        run: echo "name=ghcr.io/${GITHUB_REPOSITORY,,}" >> "$GITHUB_OUTPUT"',
        f"      - uses: {pinned_uses('docker/build-push-action')}",
        "        with:",
        "          context: .",
        f"          file: {dockerfile}",
        f"          push: ${{{{ {DEFAULT_BRANCH_PUSH} }}}}",
        "          tags: ${{ steps.image.outputs.name }}:${{ github.sha }}",
    ]
