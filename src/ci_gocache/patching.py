"""The one-way pipeline: repo → facts → plan → edits → verified files."""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from ci_gocache.errors import InputError, Notice
from ci_gocache.repo import RepoFacts, find_repo_root, inspect_repo
from ci_gocache.filewrites import ChangedOnDisk, resolve_inside, write_atomically
from ci_gocache.sourcefile import MAX_FILE_BYTES, NotPatchable, SourceFile, read_source
from ci_gocache.targets import ALL_TARGETS, target_claiming, target_for_explicit_file
from ci_gocache.targets.base import FilePlan, JobOutcome, PatchOptions
from ci_gocache.textedit import OverlappingEdits, apply_edits, unified_diff_of_edits

SKIPPED_WALK = {".git", "node_modules", "vendor", "testdata", ".venv", "__pycache__", ".gitlab-ci-local"}


@dataclass
class FileResult:
    path: str
    target: str
    status: str  # changed | unchanged | skipped | error
    diff: str = ""
    jobs: list[JobOutcome] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)
    error: InputError | None = None
    # The file's facts as written (patched or not), for checks across files (cache flow).
    facts: Any = None
    source_path: Path | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "target": self.target,
            "status": self.status,
            "jobs": [job.as_json() for job in self.jobs],
            "notices": [str(notice) for notice in self.notices],
            "error": str(self.error) if self.error else None,
        }


@dataclass
class Candidate:
    path: Path
    shown: str
    target: ModuleType | None


def discover(paths: list[str], default_paths: list[str]) -> list[Candidate]:
    """Files to work on: explicit files as given, directories walked for files a target claims."""
    found: list[Candidate] = []
    seen: set[Path] = set()
    for given in paths or default_paths:
        path = Path(given)
        if path.is_dir():
            for directory, subdirectories, files in os.walk(path):
                subdirectories[:] = sorted(d for d in subdirectories if d not in SKIPPED_WALK)
                for name in sorted(files):
                    file_path = Path(directory) / name
                    relative = Path(os.path.abspath(file_path)).relative_to(find_repo_root(file_path)).as_posix()
                    # A workflows folder named on the command line counts as the repository's own
                    # (its files, not its subfolders', which GitHub does not read either).
                    target = target_claiming(relative) or (
                        target_claiming(f".github/workflows/{name}")
                        if _is_workflows_dir(path) and os.path.abspath(directory) == os.path.abspath(path)
                        else None
                    )
                    if target is not None and Path(os.path.abspath(file_path)) not in seen:
                        seen.add(Path(os.path.abspath(file_path)))
                        found.append(Candidate(file_path, str(file_path), target))
        else:
            resolved = Path(os.path.abspath(path))
            if resolved in seen:
                continue
            seen.add(resolved)
            target = target_for_explicit_file(path.name if not path.exists() else _relative_to_root(path))
            found.append(Candidate(path, given, target))
    return found


def _is_workflows_dir(path: Path) -> bool:
    resolved = Path(os.path.abspath(path))
    return resolved.name == "workflows" and resolved.parent.name == ".github"


def _relative_to_root(path: Path) -> str:
    try:
        return Path(os.path.abspath(path)).relative_to(find_repo_root(path)).as_posix()
    except ValueError:
        return path.name


class RepoCache:
    def __init__(self) -> None:
        self._repos: dict[Path, RepoFacts | InputError] = {}

    def for_file(self, path: Path) -> RepoFacts:
        """The repository's facts, read once; an unreadable go.mod fails every file of that repository."""
        root = find_repo_root(path)
        if root not in self._repos:
            try:
                repo = inspect_repo(root)
            except InputError as error:
                self._repos[root] = error
            else:
                repo.dockerfile_cache_mounts = _dockerfile_cache_mounts
                self._repos[root] = repo
        facts = self._repos[root]
        if isinstance(facts, InputError):
            raise facts
        return facts


def _dockerfile_cache_mounts(path: Path, repo: RepoFacts) -> list[dict[str, str]] | None:
    """The Dockerfile target's answer, loaded only when a workflow asks for it."""
    from ci_gocache.targets.dockerfile.patcher import cache_mounts_after_patch

    return cache_mounts_after_patch(path, repo)


# A run that finds its file changed on disk between reading and writing (another run, a
# `git checkout`) starts that file again from the new bytes, at most this many times.
ATTEMPTS_WHEN_CHANGED = 5


def patch_file(candidate: Candidate, options: PatchOptions, repos: RepoCache, write: bool) -> FileResult:
    target = candidate.target
    name = getattr(target, "NAME", "unknown")
    if target is None:
        error = InputError(candidate.shown, 1, 1, "not a CI file ci-gocache knows; pass a workflow, .gitlab-ci.yml or Dockerfile")
        return FileResult(candidate.shown, name, "error", error=error)
    for _ in range(ATTEMPTS_WHEN_CHANGED):
        try:
            with collector_paused():
                return _patch_once(candidate, target, options, repos, write)
        except ChangedOnDisk:
            continue
        except NotPatchable as skipped:
            notice = Notice(candidate.shown, 1, 1, skipped.message)
            return FileResult(candidate.shown, name, "skipped", notices=[notice])
        except InputError as error:
            return FileResult(candidate.shown, name, "error", error=error)
        except OverlappingEdits as error:
            failure = InputError(candidate.shown, 1, 1, f"internal error: {error}; nothing was written")
            return FileResult(candidate.shown, name, "error", error=failure)
    failure = InputError(
        candidate.shown, 1, 1,
        f"the file changed on disk {ATTEMPTS_WHEN_CHANGED} times while it was being patched; nothing written; run again",
    )
    return FileResult(candidate.shown, name, "error", error=failure)


def _patch_once(candidate: Candidate, target: ModuleType, options: PatchOptions, repos: RepoCache, write: bool) -> FileResult:
    name = target.NAME
    real = resolve_inside(candidate.path, find_repo_root(candidate.path), candidate.shown)
    source = read_source(candidate.path, candidate.shown, read_from=real)
    patched = _patch_source(source, target, repos.for_file(candidate.path), options)
    result = FileResult(
        candidate.shown, name, "unchanged", jobs=patched.plan.jobs, notices=patched.plan.notices, facts=patched.facts,
        source_path=Path(os.path.abspath(candidate.path)),
    )
    if not patched.changed:
        return result
    result.facts = patched.new_facts
    result.status = "changed"
    result.diff = unified_diff_of_edits(source.text, patched.plan.edits, f"a/{candidate.shown}", f"b/{candidate.shown}")
    if write and source.disk is not None:
        try:
            write_atomically(source.disk, source.encode(patched.new_text), candidate.shown)
        except NotPatchable as refused:
            result.status = "skipped"
            result.notices = [*result.notices, Notice(candidate.shown, 1, 1, refused.message)]
    return result


@dataclass
class _Patched:
    facts: Any
    plan: FilePlan
    new_text: str
    # The facts of new_text: those verify() returns (None if it returns none), or facts when unchanged.
    new_facts: Any
    changed: bool


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cycle collector off for a while, as it was afterwards.

    Reading a large file builds hundreds of thousands of objects (nodes, plain values, facts)
    that live until the file is done; each of the collector's full passes walks all of them
    again, and they happen every few tens of thousands of new objects: over a third of the
    CPU time of patching a 3,000-job workflow. The data is released by reference counting
    (nothing of ours keeps a cycle: a recursive helper drops its reference to itself), and what
    few cycles the libraries make wait for the collector's next pass after this. A pause that
    ends while the data still lives only defers a pass over it: `patch` pauses the collector
    until its results are gone.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _patch_source(source: SourceFile, target: ModuleType, repo: RepoFacts, options: PatchOptions) -> _Patched:
    """inspect → plan → edits → verify, and a second plan that must change nothing: the one
    pipeline for files on disk and for text `init` emits. Raises InputError when the result is
    over the size limit, does not verify or would change again."""
    with collector_paused():
        return _patch_source_now(source, target, repo, options)


def _patch_source_now(source: SourceFile, target: ModuleType, repo: RepoFacts, options: PatchOptions) -> _Patched:
    facts = target.inspect(source, repo)
    plan = target.plan(facts, options)
    new_text = apply_edits(source.text, plan.edits)
    if new_text == source.text:
        return _Patched(facts, plan, new_text, facts, changed=False)
    size = len(source.encode(new_text))
    if size > MAX_FILE_BYTES:
        _refuse_size(source, size)
    new_facts = target.verify(source, facts, new_text, options)
    _check_idempotent(target, source, new_text, new_facts, options, repo)
    return _Patched(facts, plan, new_text, new_facts, changed=True)


def _refuse_size(source: SourceFile, size: int) -> None:
    raise InputError(
        source.display_path, 1, 1,
        f"the patched file would be {size} bytes, over the {MAX_FILE_BYTES}-byte limit "
        "that the next run reads; nothing written; split the workflow, or use --style action (shorter steps)",
    )


def _check_idempotent(
    target: ModuleType, source: SourceFile, new_text: str, new_facts: Any, options: PatchOptions, repo: RepoFacts
) -> None:
    """A second run must change nothing. Targets whose verify() returns the patched text's
    facts save a parse here."""
    if new_facts is None:
        again = SourceFile(source.path, source.display_path, new_text, source.has_bom, source.newline, source.mode)
        new_facts = target.inspect(again, repo)
    second = target.plan(new_facts, options)
    if second.edits:
        raise InputError(
            source.display_path, 1, 1, "internal error: a second run would change the file again; nothing was written"
        )


def cache_flow(results: list[FileResult], repos: RepoCache) -> list[Any]:
    """Cache-flow findings (targets with a `flow` function) for the restores of the jobs
    patched in this run: each says which jobs save the cache, or that none does.

    Every CI file of the repository counts as a possible saver, also the ones not passed.
    """
    groups: dict[tuple[str, Path], dict[Path, Any]] = {}
    targets: dict[str, ModuleType] = {}
    patched: set[tuple[str, str]] = set()
    for result in results:
        target = ALL_TARGETS.get(result.target)
        if target is None or not hasattr(target, "flow") or result.facts is None or result.source_path is None:
            continue
        root = repos.for_file(result.source_path).root
        targets[result.target] = target
        groups.setdefault((result.target, root), {})[result.source_path] = result.facts
        patched.update((result.facts.path, job.job) for job in result.jobs if job.outcome == "patched")
    with collector_paused():
        return _flow_findings(groups, targets, patched, repos)


def _flow_findings(
    groups: dict[tuple[str, Path], dict[Path, Any]], targets: dict[str, ModuleType], patched: set[tuple[str, str]], repos: RepoCache
) -> list[Any]:
    findings: list[Any] = []
    for (name, root), facts_by_path in groups.items():
        target = targets[name]
        repo = repos.for_file(next(iter(facts_by_path)))
        everything = list(facts_by_path.values())
        for relative in target.repository_files(repo):
            path = Path(os.path.abspath(root / relative))
            if path in facts_by_path:
                continue
            try:
                everything.append(target.inspect(read_source(path, relative), repo))
            except (InputError, NotPatchable):
                continue
        findings.extend(
            finding for finding in target.flow(everything)
            if (finding.restore.path, finding.restore.job) in patched
        )
    return findings


def patch_text(
    text: str, relative_path: str, target: ModuleType, repo: RepoFacts, options: PatchOptions
) -> tuple[str, list[JobOutcome], list[Notice]]:
    """Patch text that is not on disk yet (what `ci-gocache init` emits), verified like a file.

    Raises InputError when the patched text does not verify or a second run would change it.
    """
    source = SourceFile(repo.root / relative_path, relative_path, text, False, "\n", 0o644)
    patched = _patch_source(source, target, repo, options)
    return patched.new_text, patched.plan.jobs, patched.plan.notices
