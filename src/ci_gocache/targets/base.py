"""The small interface every CI target implements, and the data it passes along.

A target is a module with:

    NAME: str
    claims(relative_path: str) -> bool          is this file mine when scanning a tree?
    inspect(source, repo) -> facts              read the file into plain data (no edits)
    plan(facts, options) -> FilePlan            decide the edits (pure)
    verify(source, facts, new_text, options)    parse the result again; raise InputError if wrong;
                                                may return the facts of new_text (saves a parse)
    describe(facts) -> dict                     the facts as JSON-ready data for `inspect`

and optionally, for checks across the files of one repository:

    repository_files(repo) -> list[str]         every file of this target in the repository
    flow(facts_list) -> list[finding]           cache flow: which job saves what each job restores;
                                                a finding has .restore (path, job, line, col),
                                                .saved, .message() and .as_json()

The pipeline in `ci_gocache.patching` drives them: repo → facts → plan → edits → verified files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from ci_gocache.errors import Notice
from ci_gocache.keys import DEFAULT_PREFIX
from ci_gocache.repo import RepoFacts
from ci_gocache.sourcefile import SourceFile
from ci_gocache.textedit import Edit

SAVE_POLICIES = ("default-branch", "push", "always", "never")
PATCH_STYLES = ("steps", "action")


@dataclass(frozen=True)
class PatchOptions:
    save_on: str = "default-branch"
    key_prefix: str = DEFAULT_PREFIX
    style: str = "steps"
    action_repository: str = "ci-gocache/ci-gocache"
    action_ref: str = ""
    action_version: str = ""
    cache_mounts_dance: bool = False


@dataclass
class JobOutcome:
    job: str
    line: int
    outcome: str  # patched | already-cached | not-go | skipped | unsafe | reusable
    reason: str = ""

    def as_json(self) -> dict[str, Any]:
        return {"job": self.job, "line": self.line, "outcome": self.outcome, "reason": self.reason}


@dataclass
class FilePlan:
    edits: list[Edit] = field(default_factory=list)
    jobs: list[JobOutcome] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)


class Target(Protocol):
    NAME: str

    def claims(self, relative_path: str) -> bool: ...

    def inspect(self, source: SourceFile, repo: RepoFacts) -> Any: ...

    def plan(self, facts: Any, options: PatchOptions) -> FilePlan: ...

    def verify(self, source: SourceFile, facts: Any, new_text: str, options: PatchOptions) -> Any: ...

    def describe(self, facts: Any) -> dict[str, Any]: ...
