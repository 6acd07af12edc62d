"""What the Dockerfile patcher knows about a file: its stages, their Go RUNs with the cache mounts
they have and need, and the CI builds of the file."""

from __future__ import annotations

from dataclasses import dataclass, field

from ci_gocache.targets.dockerfile.syntax import DockerfileSyntax, Instruction


@dataclass
class MountFacts:
    type: str
    target: str
    mount_id: str
    raw: str
    options: dict[str, str]


@dataclass
class RunFacts:
    index: int  # into syntax.instructions
    instruction: Instruction
    mounts: list[MountFacts]
    downloads: bool
    download_only: bool
    module_cache: str | None
    build_cache: str | None
    owner: str  # `uid=N[,gid=M]` for a non-root USER, else ""
    problem: str  # why mounts cannot be added, or ""
    after_download: bool = False  # an earlier RUN of the stage (or its parents) downloads modules

    @property
    def private_mounts(self) -> list[MountFacts]:
        return [mount for mount in self.mounts if mount.type in ("ssh", "secret")]

    def missing_mounts(self, modules_in_layer: bool = False) -> list[str]:
        """Cache mount targets this RUN needs and does not have.

        With `modules_in_layer` (the image is built on a fresh builder that imports a layer
        cache), the download RUN keeps the modules in its layer and the RUNs after it read them
        there: a module cache mount would empty that layer, or hide it.
        """
        if self.problem:
            return []
        cache_targets = [mount.target.rstrip("/") for mount in self.mounts if mount.type == "cache"]
        missing = []
        modules_from_layer = modules_in_layer and (self.downloads or self.after_download)
        if self.module_cache and not modules_from_layer and not any(
            target == self.module_cache or target.endswith("/pkg/mod") for target in cache_targets
        ):
            missing.append(self.module_cache)
        # `go mod download` compiles nothing: the build cache would be an empty mount there.
        if self.build_cache and not self.download_only and not any(
            target == self.build_cache or "go-build" in target or target.endswith("/gocache") for target in cache_targets
        ):
            missing.append(self.build_cache)
        return missing


@dataclass
class StageFacts:
    number: int
    name: str
    base: str
    base_stage: int | None
    golang_image: bool
    first: int  # index of its FROM
    last: int  # index past its last instruction
    go_runs: list[RunFacts] = field(default_factory=list)
    settings: list[tuple[str, str, int]] = field(default_factory=list)  # (name, value, line)
    source_copy: int | None = None
    modules_first: bool = False  # go.mod reaches the stage before the whole source
    downloaded: bool = False  # a RUN of the stage (or its parents) has downloaded modules
    env: dict[str, str] = field(default_factory=dict)
    user: str = ""
    user_adds: list[str] = field(default_factory=list)
    go_toolset: bool = False  # FROM a go-toolset image: its own user and HOME

    @property
    def label(self) -> str:
        return self.name or f"#{self.number}"

    @property
    def is_go(self) -> bool:
        return bool(self.go_runs)


@dataclass
class BuildUse:
    file: str
    line: int
    tool: str  # buildx | build-push-action | docker-build | docker-build-legacy | kaniko | podman | buildah
    dockerfile: str | None  # repo-relative, or None when it cannot be told
    context: str | None = None  # the build context, repo-relative ("" for the root), None if unknown
    # A fresh builder in every job that imports a layer cache (a registry or gha cache): cache
    # mounts start empty there, only layers come back.
    ephemeral: bool = False


@dataclass
class DockerfileFacts:
    path: str
    relative: str
    text: str
    newline: str
    syntax: DockerfileSyntax
    stages: list[StageFacts]
    context_dir: str | None  # repo-relative directory that COPY . . reads, when known
    module_copies: list[tuple[list[str], str]]  # (sources relative to the context, destination subdir)
    vendored: bool
    builds: list[BuildUse]
    upper_case: bool
    module_dir: str = ""  # the module directory inside the context, "" at its root
    context_problem: str = ""  # why go.mod cannot be copied first, or ""

    @property
    def modules_in_layer(self) -> bool:
        """CI builds this file on fresh builders with a layer cache: keep the modules in the
        download layer, since cache mounts are never exported (moby/buildkit#1474)."""
        return any(build.ephemeral for build in self.builds)
