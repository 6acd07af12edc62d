"""Which go.sum files a GitHub job builds: the directories its steps run Go in, turned into
hashFiles() arguments relative to the workspace."""

from __future__ import annotations

import re
from typing import Any

from ci_gocache import keys
from ci_gocache.repo import RepoFacts
from ci_gocache.targets.github.facts import EXPRESSION, LINT_ACTION, MATRIX_EXPRESSION, SETUP_GO, JobFacts, matrix_values


def resolve_modules(facts: JobFacts, repo: RepoFacts, job_plain: dict[str, Any]) -> None:
    """Which go.sum files this job builds, as hashFiles() arguments relative to the workspace."""
    checkout_prefix = ""
    checkouts = [step for step in facts.steps if step.action == "actions/checkout"]
    own_checkouts = [step for step in checkouts if not step.inputs.get("repository")]
    if len(own_checkouts) == 1 and own_checkouts[0].inputs.get("path"):
        checkout_prefix = keys._normal(str(own_checkouts[0].inputs["path"]))
    # A checkout path computed at run time (`path: ${{ ... }}`) cannot go into hashFiles():
    # every go.sum of the workspace is keyed instead.
    prefix_unknown = "${{" in checkout_prefix
    if prefix_unknown:
        checkout_prefix = ""

    def repo_relative(directory: str) -> str | None:
        if prefix_unknown:
            return None
        cleaned = keys._normal(directory.strip().removeprefix("./"))
        if cleaned.startswith("${{ github.workspace }}"):
            cleaned = keys._normal(cleaned[len("${{ github.workspace }}") :].lstrip("/"))
        if checkout_prefix:
            if cleaned == checkout_prefix or cleaned.startswith(checkout_prefix + "/"):
                cleaned = keys._normal(cleaned[len(checkout_prefix) :].lstrip("/"))
            else:
                return None
        if cleaned.startswith(("/", "..")) or cleaned.startswith("$"):
            return None
        return cleaned

    directories: list[str] = []
    dependency_globs: list[str] = []
    for step in facts.steps:
        candidates: list[str] = []
        if step.needs_go:
            base = step.working_directory or facts.working_directory or ""
            candidates.append(base)
            for target in script_directories(step.run or ""):
                candidates.append(f"{base}/{target}" if base and not target.startswith(("/", "$")) else target)
            if step.action == LINT_ACTION and step.inputs.get("working-directory"):
                candidates.append(str(step.inputs["working-directory"]))
        if step.action == SETUP_GO:
            value = step.inputs.get("go-version-file")
            if isinstance(value, str) and value.strip() and "\n" not in value.strip() and "*" not in value:
                candidates.append(value.strip().rsplit("/", 1)[0] if "/" in value else "")
            # cache-dependency-path is the user's own statement of what the job depends on.
            for entry in str(step.inputs.get("cache-dependency-path") or "").splitlines():
                entry = entry.strip()
                if not entry:
                    continue
                if any(char in entry for char in "*?["):
                    dependency_globs.append(entry)
                else:
                    candidates.append(entry.rsplit("/", 1)[0] if "/" in entry else "")
        for candidate in candidates:
            if candidate not in directories:
                directories.append(candidate)
    if not directories:
        directories.append(facts.working_directory or "")

    hash_arguments: list[str] = []
    sum_files: list[str] = []
    unknown = False
    for directory in directories:
        if MATRIX_EXPRESSION.search(directory) or EXPRESSION.search(directory):
            arguments, files = _matrix_directory_arguments(directory, facts.matrix, repo, repo_relative, checkout_prefix)
            if arguments is None:
                unknown = True
                continue
            hash_arguments.extend(argument for argument in arguments if argument not in hash_arguments)
            sum_files.extend(file for file in files if file not in sum_files)
            continue
        relative = repo_relative(directory)
        if relative is None:
            unknown = True
            continue
        for file in repo.remember(("sum files of", relative), lambda: keys.sum_files_for_directories(repo.root, [relative])):
            if file not in sum_files:
                sum_files.append(file)
                hash_arguments.append(_quote(_workspace_path(checkout_prefix, file)))
    for pattern in dependency_globs:
        relative = repo_relative(pattern)
        if relative is None:
            unknown = True
            continue
        argument = _quote(_workspace_path(checkout_prefix, relative))
        if argument not in hash_arguments:
            hash_arguments.append(argument)
        globbed = repo.remember(("sum files matching", relative), lambda: keys.expand_sum_globs(repo.root, [relative]))
        sum_files.extend(file for file in globbed if file not in sum_files)
    if not sum_files and not hash_arguments:
        unknown = True
    if unknown:
        # A directory the tool cannot name before the run (a loop over `find`, a variable):
        # every go.sum and go.work.sum, so that no module's dependency bump leaves the key as it was.
        hash_arguments = [_quote(_workspace_path(checkout_prefix, "**/go.sum")), _quote(_workspace_path(checkout_prefix, "**/go.work.sum"))]
        sum_files = repo.remember(("every sum file",), lambda: keys.all_sum_files(repo.root))
    facts.module_directories = directories
    facts.sum_files = sorted(sum_files)
    facts.hash_arguments = hash_arguments
    roots = sorted({keys._normal(file.rpartition("/")[0]) for file in sum_files}, key=lambda path: path.split("/"))
    facts.module_roots = [_workspace_path(checkout_prefix, root) if root else (checkout_prefix or ".") for root in roots]


_DIRECTORY_COMMAND = re.compile(
    r"(?:^|[;&|(]|\bthen|\bdo|\belse)\s*(?:cd|pushd)\s+([^\s;&|)]+)"
    r"|(?:^|[\s;&|(`])go\s+-C(?:\s+|=)([^\s;&|)]+)",
    re.MULTILINE,
)
_FOR_LOOP = re.compile(r"\bfor\s+([A-Za-z_][A-Za-z0-9_]*)\s+in\s+([^;\n]*?)\s*(?:;|\n)\s*do\b")
# Go run in directories that only the run knows: `find ... -execdir go`, `xargs ... go`.
_RUNTIME_DIRECTORIES = re.compile(r"-execdir\s+(?:\S+/)?go\s|\bxargs\b[^\n|;]*\bgo\s")
_VARIABLE = re.compile(r"^\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?(.*)$")


def script_directories(run: str) -> list[str]:
    """The directories a script runs Go in: `cd dir`, `(cd dir && go ...)`, `pushd dir`, `go -C dir`,
    and loops over literal lists (`for d in a b; do (cd "$d" && go test ./...); done`).

    A directory computed at run time (`$(find ...)`, a glob, another variable) comes back as
    "$" so that the caller falls back to every go.sum.
    """
    loops: dict[str, list[str] | None] = {}
    for match in _FOR_LOOP.finditer(run):
        words = match.group(2).split()
        literal = all(not any(char in word for char in "$`*?[(") for word in words)
        loops[match.group(1)] = [word.strip("'\"") for word in words] if literal and words else None
    directories: list[str] = []
    if _RUNTIME_DIRECTORIES.search(run):
        directories.append("$")
    for match in _DIRECTORY_COMMAND.finditer(run):
        target = (match.group(1) or match.group(2) or "").strip("'\"")
        if not target or target == "-":
            continue
        variable = _VARIABLE.match(target)
        if variable:
            values = loops.get(variable.group(1))
            if values is None:
                directories.append("$")
                continue
            rest = variable.group(2).strip("'\"")
            directories.extend(value + rest for value in values)
        elif any(char in target for char in "$`*?["):
            directories.append("$")
        else:
            directories.append(target)
    return directories


def _workspace_path(prefix: str, relative: str) -> str:
    return f"{prefix}/{relative}" if prefix else relative


def _quote(literal: str) -> str:
    return "'" + literal.replace("'", "''") + "'"


def _matrix_directory_arguments(
    directory: str,
    matrix: dict[str, Any],
    repo: RepoFacts,
    repo_relative: Any,
    checkout_prefix: str,
) -> tuple[list[str] | None, list[str]]:
    """hashFiles arguments for a directory such as `services/${{ matrix.service }}`."""
    names = MATRIX_EXPRESSION.findall(directory)
    if len(names) != 1 or EXPRESSION.sub("", MATRIX_EXPRESSION.sub("", directory)) != MATRIX_EXPRESSION.sub("", directory):
        return None, []
    name = names[0]
    values = matrix_values(matrix, name)
    if not values or not all(isinstance(value, (str, int, float)) for value in values):
        return None, []
    template = MATRIX_EXPRESSION.sub("{0}", directory)
    files: list[str] = []
    every_value_has_go_sum = True
    for value in values:
        relative = repo_relative(template.replace("{0}", str(value)))
        if relative is None:
            return None, []
        found = repo.remember(("sum files of", relative), lambda: keys.sum_files_for_directories(repo.root, [relative]))
        own_sum = f"{relative}/go.sum" if relative else "go.sum"
        if found != [own_sum]:
            every_value_has_go_sum = False
        files.extend(found)
    if every_value_has_go_sum:
        relative_template = repo_relative(template.replace("{0}", "\x00"))
        if relative_template is None:
            return None, []
        pattern = _workspace_path(checkout_prefix, f"{relative_template}/go.sum" if relative_template else "go.sum")
        pattern = pattern.replace("{", "{{").replace("}", "}}").replace("\x00", "{0}")
        return [f"format({_quote(pattern)}, matrix.{name})"], files
    unique = sorted(set(files))
    return [_quote(_workspace_path(checkout_prefix, file)) for file in unique], unique
