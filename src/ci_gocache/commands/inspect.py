"""`ci-gocache inspect`: report the Go modules and CI files of a repository, and their caching."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click

from ci_gocache.errors import InputError
from ci_gocache.repo import inspect_repo
from ci_gocache.sourcefile import read_source
from ci_gocache.targets import ALL_TARGETS


def inspect_directory(root: Path) -> tuple[dict[str, Any], list[InputError]]:
    repo = inspect_repo(root)
    errors: list[InputError] = []
    report: dict[str, Any] = {
        "root": str(root),
        "modules": [asdict(module) for module in repo.modules],
        "workspaces": [asdict(workspace) for workspace in repo.workspaces],
        "workflows": [],
        "gitlab": [],
        "dockerfiles": [],
        "cache_flow": [],
    }
    sections = [("workflows", "github", repo.workflow_files), ("gitlab", "gitlab", repo.gitlab_files),
                ("dockerfiles", "dockerfile", repo.dockerfiles)]
    for section, target_name, files in sections:
        target = ALL_TARGETS.get(target_name)
        inspected = []
        for relative in files:
            if target is None:
                report[section].append({"path": relative})
                continue
            try:
                facts = target.inspect(read_source(root / relative, relative), repo)
                report[section].append(target.describe(facts))
                inspected.append(facts)
            except InputError as error:
                errors.append(error)
                report[section].append({"path": relative, "error": str(error)})
        if target is not None and hasattr(target, "flow"):
            report["cache_flow"].extend(finding.as_json() for finding in target.flow(inspected))
    return report, errors


def render_text(report: dict[str, Any]) -> str:
    lines = [f"Repository: {report['root']}"]
    lines.append(f"Go modules ({len(report['modules'])}):")
    for module in report["modules"]:
        where = module["directory"] or "."
        extras = [f"go {module['go_version']}" if module["go_version"] else "no go line"]
        if module["toolchain"]:
            extras.append(f"toolchain {module['toolchain']}")
        extras.append("go.sum" if module["has_go_sum"] else "no go.sum")
        if module["has_vendor"]:
            extras.append("vendor/")
        lines.append(f"  {where}: {module['module_path']} ({', '.join(extras)})")
    for workspace in report["workspaces"]:
        where = workspace["directory"] or "."
        sum_note = "go.work.sum" if workspace["has_go_work_sum"] else "no go.work.sum"
        lines.append(f"  workspace {where}/go.work: uses {', '.join(workspace['uses'])} ({sum_note})")
    lines.append(f"Workflows ({len(report['workflows'])}):")
    for workflow in report["workflows"]:
        if "error" in workflow:
            lines.append(f"  {workflow['error']}")
            continue
        lines.append(f"  {workflow['path']} (on: {', '.join(workflow['triggers'])})")
        if workflow["publishing"]:
            lines.append(f"    publishing workflow: {'; '.join(workflow['publishing'])} (never saves caches)")
        for job in workflow["jobs"]:
            if job["reusable_workflow"]:
                lines.append(f"    job {job['id']}: calls a reusable workflow")
                continue
            verdict = "builds Go (" + "; ".join(job["why"]) + ")" if job["builds_go"] else "does not build Go"
            lines.append(f"    job {job['id']} (line {job['line']}): {verdict}")
            if job["runs_on"]:
                lines.append(f"      runs on: {', '.join(job['runs_on'])}")
            if job["container"]:
                lines.append(f"      container: {job['container']}")
            if job["working_directory"]:
                lines.append(f"      working-directory: {job['working_directory']}")
            if job["builds_go"]:
                lines.append(f"      go.sum files: {', '.join(job['go_sum_files']) or '(none found)'}")
            for cache in job["caches"]:
                lines.append(f"      cache: {cache['detail']} (line {cache['line']})")
            if job["builds_go"] and not job["caches"]:
                lines.append("      cache: none")
            for build in job["docker_builds"]:
                lines.append(f"      docker build: {build}")
    flows = report.get("cache_flow", [])
    lines.append(f"Cache flow ({len(flows)} restores, {sum(1 for flow in flows if not flow['saved_by'])} never saved):")
    for flow in flows:
        where = f"  {flow['path']} job {flow['job']}: {flow['cache']}"
        if flow["saved_by"]:
            lines.append(f"{where}: saved by {', '.join(flow['saved_by'])}")
        else:
            lines.append(f"{where}: NOTHING SAVES IT (key {flow['key']})")
    for section, title in (("gitlab", "GitLab CI files"), ("dockerfiles", "Dockerfiles")):
        lines.append(f"{title} ({len(report[section])}):")
        for entry in report[section]:
            lines.extend(describe_other(entry))
    return "\n".join(lines) + "\n"


def describe_other(entry: dict[str, Any]) -> list[str]:
    if "error" in entry:
        return [f"  {entry['error']}"]
    lines = [f"  {entry['path']}"]
    for finding in entry.get("findings", []):
        lines.append(f"    {finding}")
    return lines


@click.command("inspect")
@click.argument("directory", default=".", type=click.Path(file_okay=False))
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text", show_default=True)
def command(directory: str, output_format: str) -> None:
    """Report Go modules, CI jobs and the caching they already have."""
    root = Path(directory)
    if not root.is_dir():
        click.echo(f"{directory}:1:1: no such directory; pass the repository root", err=True)
        sys.exit(2)
    report, errors = inspect_directory(root)
    for error in errors:
        click.echo(str(error), err=True)
    if output_format == "json":
        click.echo(json.dumps(report, indent=2))
    else:
        click.echo(render_text(report), nl=False)
    if errors:
        sys.exit(2)
