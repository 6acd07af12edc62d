"""`ci-gocache init`: write complete, cached CI for a Go repository that has none."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

EXIT_EXISTS = 1
OPERATING_SYSTEMS = ("linux", "windows", "macos")


@dataclass
class EmittedFile:
    path: str
    text: str
    status: str = "new"  # new | exists | overwritten
    jobs: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"path": self.path, "status": self.status, "jobs": self.jobs}


@click.command("init")
@click.argument("directory", default=".", type=click.Path(file_okay=False))
@click.option("--github", "ci", flag_value="github", help="Write a GitHub Actions workflow (.github/workflows/go.yml).")
@click.option("--gitlab", "ci", flag_value="gitlab", help="Write a GitLab pipeline (.gitlab-ci.yml).")
@click.option(
    "--gitlab-include", type=click.Choice(["component", "template"]), default="component", show_default=True,
    help="With --gitlab: use the ci-gocache CI/CD component, or a copy of the include template.",
)
@click.option(
    "--os", "operating_systems", default="linux", show_default=True,
    help="GitHub runners for the test job, comma-separated: linux, windows, macos.",
)
@click.option(
    "--style", type=click.Choice(["steps", "action"]), default="steps", show_default=True,
    help="GitHub: raw actions/cache steps, or the ci-gocache action.",
)
@click.option("--action-ref", default="", help="With --style action: the commit SHA of the ci-gocache action to pin.")
@click.option("--action-version", default="", help="With --style action: the version comment for --action-ref.")
@click.option("--dry-run", is_flag=True, help="Print what would be written; write nothing.")
@click.option("--force", is_flag=True, help="Overwrite files that exist.")
@click.option(
    "--format", "output_format", type=click.Choice(["text", "json"]), default="text", show_default=True,
    help="Summary format.",
)
def command(
    directory: str,
    ci: str | None,
    gitlab_include: str,
    operating_systems: str,
    style: str,
    action_ref: str,
    action_version: str,
    dry_run: bool,
    force: bool,
    output_format: str,
) -> None:
    """Write CI for the Go repository in DIRECTORY that caches right from its first run.

    It never overwrites a file without --force; a repository that has CI already is told to use
    `ci-gocache patch`. The output depends only on the repository: every run writes the same bytes.
    """
    from ci_gocache.errors import InputError
    from ci_gocache.repo import inspect_repo

    systems = [name.strip() for name in operating_systems.split(",") if name.strip()]
    unknown = [name for name in systems if name not in OPERATING_SYSTEMS]
    if not systems or unknown:
        raise click.UsageError(f"--os takes {', '.join(OPERATING_SYSTEMS)}, comma-separated; got {operating_systems!r}")
    if style == "action" and not re.fullmatch(r"[0-9a-f]{40}", action_ref):
        raise click.UsageError("--style action needs --action-ref with a full 40-character commit SHA (lowercase hex)")
    root = Path(directory)
    if not root.is_dir():
        _fail(f"{directory}:1:1: no such directory; pass the root of a Go repository")
    repo = inspect_repo(root.resolve())
    chosen = ci or _ci_in_use(root)
    try:
        if chosen == "github":
            emitted, notices = _github_files(repo, systems, style, action_ref, action_version)
        else:
            emitted, notices = _gitlab_files(repo, gitlab_include)
    except InputError as error:
        _fail(str(error))
    existing_ci = _existing_ci(root, chosen)
    for item in emitted:
        target = root / item.path
        if target.exists() or target.is_symlink():
            item.status = "overwritten" if force else "exists"
    blocked = [item for item in emitted if item.status == "exists"]
    if existing_ci and not force and not blocked:
        notices.append(
            f"{existing_ci[0]}: this repository already has {chosen} CI; run `ci-gocache patch` to add caching "
            "to it, or pass --force to write next to it"
        )
    refused = bool(blocked) or (bool(existing_ci) and not force)
    if not dry_run and not refused:
        from ci_gocache.filewrites import ChangedOnDisk

        for item in emitted:
            try:
                _write(root / item.path, item.text)
            except InputError as error:
                _fail(str(error))
            except ChangedOnDisk:
                _fail(f"{item.path}: the file appeared while ci-gocache was writing it; nothing written; run again")
    _report(emitted, notices, chosen, dry_run, refused, output_format)
    if refused:
        sys.exit(EXIT_EXISTS)


def _fail(message: str) -> None:
    click.echo(message, err=True)
    sys.exit(2)


def _ci_in_use(root: Path) -> str:
    """GitHub unless the repository shows signs of GitLab CI and none of GitHub Actions."""
    has_gitlab = (root / ".gitlab-ci.yml").exists() or (root / ".gitlab").is_dir()
    has_github = (root / ".github" / "workflows").is_dir()
    return "gitlab" if has_gitlab and not has_github else "github"


def _existing_ci(root: Path, ci: str) -> list[str]:
    if ci == "github":
        workflows = root / ".github" / "workflows"
        found = sorted(workflows.glob("*.y*ml")) if workflows.is_dir() else []
        return [path.relative_to(root).as_posix() for path in found]
    return [".gitlab-ci.yml"] if (root / ".gitlab-ci.yml").exists() else []


def default_branch(root: Path) -> str:
    """The branch CI saves caches on: origin's HEAD, else the checked-out branch, else main."""
    for arguments in (["symbolic-ref", "--short", "refs/remotes/origin/HEAD"], ["symbolic-ref", "--short", "HEAD"]):
        try:
            completed = subprocess.run(
                ["git", "-C", str(root), *arguments], capture_output=True, text=True, timeout=10, check=False
            )
        except (OSError, subprocess.TimeoutExpired):
            break
        branch = completed.stdout.strip().removeprefix("origin/")
        if completed.returncode == 0 and branch:
            return branch
    return "main"


def _first_dockerfile(repo: Any) -> str | None:
    names = sorted(repo.dockerfiles, key=lambda path: (path.count("/"), path))
    return names[0] if names else None


def _github_files(
    repo: Any, systems: list[str], style: str, action_ref: str, action_version: str
) -> tuple[list[EmittedFile], list[str]]:
    from ci_gocache.errors import InputError
    from ci_gocache.patching import patch_text
    from ci_gocache.targets import github
    from ci_gocache.targets.base import PatchOptions
    from ci_gocache.targets.github.emit import WORKFLOW_PATH, go_layout, workflow_text

    layout = go_layout(repo)
    if layout is None:
        raise InputError(str(repo.root), 1, 1, "no go.mod found; run `go mod init` first, then ci-gocache init")
    skeleton = workflow_text(repo, layout, default_branch(repo.root), systems, _first_dockerfile(repo))
    options = PatchOptions(style=style, action_ref=action_ref, action_version=action_version)
    text, jobs, notices = patch_text(skeleton, WORKFLOW_PATH, github, repo, options)
    patched = [job.job for job in jobs if job.outcome == "patched"]
    return [EmittedFile(WORKFLOW_PATH, text, jobs=patched)], [str(notice) for notice in notices]


def _gitlab_files(repo: Any, include: str) -> tuple[list[EmittedFile], list[str]]:
    from ci_gocache.errors import InputError
    from ci_gocache.patching import patch_text
    from ci_gocache.targets import gitlab
    from ci_gocache.targets.base import PatchOptions
    from ci_gocache.targets.github.emit import go_layout, lint_config
    from ci_gocache.targets.gitlab.emit import COMPONENT, GITLAB_CI_PATH, TEMPLATE_COPY_PATH, PipelineLayout, pipeline_text
    from ci_gocache.targets.gitlab.templates import include_template

    layout = go_layout(repo)
    if layout is None:
        raise InputError(str(repo.root), 1, 1, "no go.mod found; run `go mod init` first, then ci-gocache init")
    module = repo.module_at(layout.directories[0] if layout.directories[0] != "." else "")
    go_version = _minor_version(module.go_version if module else None)
    uses_include = layout.kind == "single"
    notices = []
    if not uses_include:
        notices.append(
            f"{GITLAB_CI_PATH}: {len(layout.directories)} modules: one job per module, cached by `ci-gocache patch` "
            "rules (the component keys on at most two fixed files, so it is not used here)"
        )
    pipeline_layout = PipelineLayout(layout.directories, go_version, uses_include)
    # Patched with the component's include line: the template copy does not exist until it is written.
    skeleton = pipeline_text(pipeline_layout, "component", lint_config(repo) is not None, _first_dockerfile(repo))
    text, jobs, plan_notices = patch_text(skeleton, GITLAB_CI_PATH, gitlab, repo, PatchOptions())
    if uses_include and include == "template":
        text = text.replace(f"  - component: {COMPONENT}\n", f"  - local: {TEMPLATE_COPY_PATH}\n", 1)
    # Jobs that extend .go-cache from the include we wrote are cached by it; the patcher cannot read
    # a component or a file that does not exist yet, and says so. That is expected here.
    included = {job.job for job in jobs if job.outcome != "patched"} if uses_include else set()
    notices += [str(notice) for notice in plan_notices if not any(f"job {name!r}" in notice.message for name in included)]
    files = [EmittedFile(GITLAB_CI_PATH, text, jobs=[job.job for job in jobs if job.outcome == "patched"])]
    if uses_include and include == "template":
        files.append(EmittedFile(TEMPLATE_COPY_PATH, include_template()))
    return files, notices


def _minor_version(go_version: str | None) -> str:
    """The golang image tag for go.mod's `go` line: 1.22.3 → 1.22; none → 1."""
    if not go_version:
        return "1"
    parts = go_version.split(".")
    return ".".join(parts[:2])


def _write(path: Path, text: str) -> None:
    from ci_gocache.filewrites import write_file

    path.parent.mkdir(parents=True, exist_ok=True)
    write_file(path, text.encode("utf-8"), str(path))


def _report(
    emitted: list[EmittedFile], notices: list[str], ci: str, dry_run: bool, refused: bool, output_format: str
) -> None:
    if output_format == "json":
        click.echo(
            json.dumps(
                {
                    "ci": ci,
                    "mode": "dry-run" if dry_run else "write",
                    "written": not dry_run and not refused,
                    "files": [item.as_json() for item in emitted],
                    "notices": notices,
                },
                indent=2,
            )
        )
        return
    for notice in notices:
        click.echo(f"{notice} (notice)", err=True)
    for item in emitted:
        if dry_run:
            click.echo(f"# {item.path}")
            sys.stdout.write(item.text)
        elif item.status == "exists":
            click.echo(f"{item.path}: exists; not overwritten (pass --force, or run `ci-gocache patch`)", err=True)
        elif not refused:
            jobs = f" (cached jobs: {', '.join(item.jobs)})" if item.jobs else ""
            click.echo(f"{item.path}: written{jobs}")


STARTER_PROPERTIES = {
    "name": "Go with ci-gocache",
    "description": "Build and test a Go module with module and build caches keyed on go.sum, saved only on the default branch.",
    "iconName": "go",
    "categories": ["Go"],
    "filePatterns": ["go.mod$"],
}


def render_starter_workflow() -> str:
    """GitHub's starter workflow (workflow_templates/github/go-cache.yml): what `init` writes for one
    module, with the `$default-branch` placeholder GitHub fills in when a user picks the template."""
    import tempfile

    from ci_gocache.patching import patch_text
    from ci_gocache.repo import inspect_repo
    from ci_gocache.targets import github
    from ci_gocache.targets.base import PatchOptions
    from ci_gocache.targets.github.emit import WORKFLOW_PATH, go_layout, workflow_text

    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        (root / "go.mod").write_text("module example.com/starter\n\ngo 1.22\n")
        (root / "go.sum").write_text("")
        repo = inspect_repo(root)
        layout = go_layout(repo)
        assert layout is not None
        skeleton = workflow_text(repo, layout, "$default-branch", ["linux"], None)
        text, _jobs, _notices = patch_text(skeleton, WORKFLOW_PATH, github, repo, PatchOptions())
    return text
