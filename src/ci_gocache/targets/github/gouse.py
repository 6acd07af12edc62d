"""Which steps of a GitHub job use Go on the runner, and which publish something.

Scripts are read as a shell would see them, minus the parts that run on another machine (ssh,
`docker run`, VMs): Go there does not use the runner's caches. Local scripts and local
composite actions (`uses: ./path`) are read from the repository, one level deep.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ci_gocache.gocommands import GO_COMMAND, GO_SUBCOMMANDS

# `./tool/go build`, `$GOROOT/bin/go test`: a Go binary reached through a path.
GO_PATH_COMMAND = re.compile(
    rf"(?:^|[\s;&|(`])[^\s;&|()`'\"]*/go\s+(?:-C\s+\S+\s+)?(?:{GO_SUBCOMMANDS})\b", re.MULTILINE
)
GO_TOOL = re.compile(r"(?:^|[\s;&|(`])go\s+tool\b", re.MULTILINE)
# Commands whose arguments run on another machine or in another image.
REMOTE_COMMAND = re.compile(
    r"(?:^|[\s;&|(`])(?:ssh|scp|vagrant\s+ssh|multipass\s+exec|lxc\s+exec|incus\s+exec|kubectl\s+exec"
    r"|(?:docker|podman|nerdctl)\s+(?:container\s+)?(?:run|exec))\b"
)
HEREDOC = re.compile(r"<<-?\s*(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\1")
LOCAL_SCRIPT = re.compile(
    r"(?:^|[\s;&|(])(?:(?:bash|sh|zsh|source|\.)\s+)?((?:\./|\.\./)?[A-Za-z0-9_./-]+\.(?:sh|bash))(?=$|[\s;&|)])",
    re.MULTILINE,
)
GOLANG_IMAGE = re.compile(r"(?:^|[/_.-])golang(?:[-_.:@/]|$)|(?:^|/)go(?:[-:@]|$)", re.IGNORECASE)
MAX_SCRIPT_BYTES = 256 * 1024

# Remote actions that cache Go's directories themselves: never add a second cache beside them.
# The value names the input that turns their Go caching off, if they have one.
GO_CACHING_ACTIONS: dict[str, tuple[str, str] | None] = {
    "magnetikonline/action-golang-cache": None,
    "prometheus/promci-setup": ("enable_go", "false"),
}


def caches_go_itself(action: str | None, inputs: dict[str, Any]) -> bool:
    """Does this remote action cache GOMODCACHE/GOCACHE itself, with these inputs?"""
    if action not in GO_CACHING_ACTIONS:
        return False
    switch = GO_CACHING_ACTIONS[action]
    return switch is None or str(inputs.get(switch[0], "")).strip().lower() != switch[1]
# Actions that check the repository out and set Go up inside themselves.
SELF_CHECKOUT_ACTIONS = {"golang/govulncheck-action": ("repo-checkout", "cache")}

SNAPSHOT_GORELEASER = re.compile(
    r"^\s*(?:check\b|healthcheck\b|build\b.*--snapshot\b|release\b.*(?:--snapshot\b|--skip[= ](?:\S*,)?publish\b))"
)


def local_go_script(run: str) -> str:
    """The script without the lines that run elsewhere (ssh, docker run, heredocs fed to them)."""
    lines = run.replace("\\\n", " ").splitlines()
    kept: list[str] = []
    terminator: str | None = None
    for line in lines:
        if terminator is not None:
            if line.strip() == terminator:
                terminator = None
            continue
        if REMOTE_COMMAND.search(line):
            heredoc = HEREDOC.search(line)
            if heredoc:
                terminator = heredoc.group(2)
            continue
        kept.append(line)
    return "\n".join(kept)


def runs_go(run: str) -> bool:
    """Does this script run Go on the runner: `go build`, `./tool/go test`, `go tool x`?"""
    local = local_go_script(run)
    return bool(GO_COMMAND.search(local) or GO_PATH_COMMAND.search(local) or GO_TOOL.search(local))


def image_has_go(image: str | None) -> bool:
    """golang:1.22, docker.io/library/golang, ghcr.io/org/golang-builder:1.26, .../go-toolset."""
    if not image:
        return False
    name = image.rsplit("/", 1)[-1] if "/" in image else image
    return bool(GOLANG_IMAGE.search(name) or GOLANG_IMAGE.search(image.split(":", 1)[0]))


def _inside(root: Path, candidate: Path) -> Path | None:
    try:
        resolved = candidate.resolve()
        resolved.relative_to(root.resolve())
    except (OSError, ValueError, RuntimeError):
        return None
    return resolved if resolved.is_file() else None


def _read_small(path: Path) -> str | None:
    try:
        if path.stat().st_size > MAX_SCRIPT_BYTES:
            return None
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def scripts_running_go(root: Path, run: str, directory: str) -> list[str]:
    """Local scripts the step runs (`./scripts/test.sh`, `bash ci/build.sh`) that run Go themselves."""
    found: list[str] = []
    if "${{" in directory:
        return found
    for match in LOCAL_SCRIPT.finditer(local_go_script(run)):
        relative = match.group(1)
        if relative.startswith("/"):
            continue
        path = _inside(root, root / directory / relative)
        text = _read_small(path) if path else None
        if text is not None and runs_go(text):
            found.append(relative)
    return found


@dataclass
class LocalAction:
    """What a local composite action (`uses: ./.github/actions/x`) does with Go."""

    path: str
    sets_up_go: bool = False
    setup_go_caches: bool = False
    setup_go_line: int = 0
    runs_go: bool = False
    problems: list[str] = field(default_factory=list)


def _setup_go_caches(step: dict[str, Any]) -> bool:
    uses = str(step.get("uses") or "")
    ref = uses.partition("@")[2]
    major = re.match(r"v?(\d+)", ref)
    inputs = step.get("with") if isinstance(step.get("with"), dict) else {}
    setting = inputs.get("cache")
    if setting is not None:
        return str(setting).strip().lower() not in ("false", "")
    return major is None or int(major.group(1)) >= 4


def read_local_action(root: Path, uses: str, depth: int = 0) -> LocalAction | None:
    """The Go facts of `uses: ./dir`, or None when it is no readable composite action."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    relative = uses.strip().removeprefix("./").rstrip("/")
    for name in ("action.yml", "action.yaml"):
        path = _inside(root, root / relative / name)
        if path is not None:
            break
    else:
        return None
    text = _read_small(path)
    if text is None:
        return None
    try:
        document = YAML(typ="safe", pure=True).load(text)
    except (YAMLError, RecursionError, ValueError):
        return None
    runs = document.get("runs") if isinstance(document, dict) else None
    if not isinstance(runs, dict) or str(runs.get("using", "")).lower() != "composite":
        return None
    facts = LocalAction(path=f"{relative}/{path.name}")
    lines = text.splitlines()
    for step in runs.get("steps") or []:
        if not isinstance(step, dict):
            continue
        step_uses = str(step.get("uses") or "")
        action = step_uses.partition("@")[0].lower()
        if action == "actions/setup-go":
            facts.sets_up_go = True
            if _setup_go_caches(step):
                facts.setup_go_caches = True
                facts.setup_go_line = next(
                    (number for number, line in enumerate(lines, 1) if "actions/setup-go" in line), 1
                )
        elif action in SELF_CHECKOUT_ACTIONS or caches_go_itself(
            action, step.get("with") if isinstance(step.get("with"), dict) else {}
        ):
            facts.sets_up_go = True
            facts.setup_go_caches = True
        elif step_uses.startswith("./") and depth < 2:
            nested = read_local_action(root, step_uses, depth + 1)
            if nested is not None:
                facts.sets_up_go = facts.sets_up_go or nested.sets_up_go
                facts.setup_go_caches = facts.setup_go_caches or nested.setup_go_caches
                facts.runs_go = facts.runs_go or nested.runs_go
        if isinstance(step.get("run"), str) and runs_go(step["run"]):
            facts.runs_go = True
    return facts


def _env_value(envs: list[Any], name: str) -> str | None:
    value = None
    for env in envs:
        if isinstance(env, dict) and name in env:
            value = str(env[name])
    return value


def step_publishing_reason(step_action: str | None, inputs: dict[str, Any], run: str, envs: list[Any]) -> str | None:
    """Why this step publishes, judged by what it does; None when it publishes nothing."""
    if step_action == "goreleaser/goreleaser-action":
        args = str(inputs.get("args") or "")
        if SNAPSHOT_GORELEASER.search(args):
            return None
        return "publishes with goreleaser/goreleaser-action"
    if step_action == "ko-build/setup-ko":
        repository = _env_value(envs, "KO_DOCKER_REPO")
        if repository is not None and repository.strip().startswith("ko.local"):
            return None
        return "publishes with ko-build/setup-ko (KO_DOCKER_REPO is not ko.local)"
    if step_action == "docker/build-push-action":
        push = str(inputs.get("push", "")).strip().lower()
        return "publishes with docker/build-push-action (push: true)" if push == "true" else None
    if step_action in (
        "softprops/action-gh-release",
        "pypa/gh-action-pypi-publish",
        "release-drafter/release-drafter",
        "googleapis/release-please-action",
        "jreleaser/release-action",
    ):
        return f"publishes with {step_action}"
    return None
