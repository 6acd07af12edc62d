"""What a GitLab job's shell scripts do to its Go caches: where Go runs, and where Go's caches go.

GitLab runs `before_script` and `script` in one shell, and `after_script` in a new one that starts
again in the project directory. read_scripts() follows them statically: `cd`, `pushd`/`popd`,
`( … )` subshells, `go -C dir`, `sh -c '…'`, heredocs skipped, and the assignments that move Go's
caches (`export GOCACHE=…`, `NAME=value command`, `env NAME=value`, `go env -w NAME=value`).
A directory only known at run time (`cd "$module"`) is reported as unknown, never guessed.

locate() says where such a value points: a directory inside the project directory (the only
place GitLab caches), somewhere outside it, or something that cannot be worked out before the job runs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from ci_gocache import keys
from ci_gocache.gocommands import GO_SUBCOMMANDS, GO_TOOL_COMMAND, MAKE_COMMAND

CACHE_VARIABLES = ("GOPATH", "GOMODCACHE", "GOCACHE")
WATCHED_VARIABLES = (*CACHE_VARIABLES, "GOFLAGS")

# Go commands that load modules or build; `go version` and `go env` do neither.
_MODULE_SUBCOMMANDS = "|".join(name for name in GO_SUBCOMMANDS.split("|") if name not in ("version", "env"))
GO_RUN = re.compile(
    rf"(?:^|[\s;&|(`]|\$\()go\s+(?:-C(?:\s+|=)(?P<directory>\S+)\s+)?(?:{_MODULE_SUBCOMMANDS})\b", re.MULTILINE
)
ASSIGNMENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$", re.DOTALL)
PROJECT_DIR = re.compile(r"^\$(?:\{CI_PROJECT_DIR\}|CI_PROJECT_DIR)(?=/|$)")
EXPANSION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)|\$\(\s*pwd\s*\)|`\s*pwd\s*`")
SHELL_KEYWORDS = {"if", "then", "else", "elif", "fi", "do", "done", "while", "until", "!", "{", "}", "time", "esac"}
WRAPPERS = {"command", "exec", "time", "nice", "nohup", "sudo", "xargs"}
SHELLS = {"sh", "bash", "dash", "ash", "zsh", "ksh"}
# Stands for $CI_PROJECT_DIR while a value is expanded.
_PROJECT = "\x00"


@dataclass(frozen=True)
class Setting:
    """A script giving one of Go's variables a value."""

    name: str
    value: str  # quotes removed, expansions kept
    section: str  # before_script | script | after_script
    cwd: str | None  # the shell's directory then, relative to the project; None when unknown
    command: str  # as written, for notices
    # `go env -w` writes Go's own configuration file, which the environment overrides.
    by_go_env: bool = False


@dataclass
class ScriptFacts:
    runs_go: bool = False
    go_directories: list[str] = field(default_factory=list)  # "" is the project directory
    unknown_directories: list[str] = field(default_factory=list)  # cd targets Go then runs under
    visited: list[str] = field(default_factory=list)  # every directory the shells are known to enter
    visited_unknown: list[str] = field(default_factory=list)
    settings: list[Setting] = field(default_factory=list)


def read_scripts(sections: Mapping[str, list[str]]) -> ScriptFacts:
    """Follow a job's scripts: before_script + script in one shell, after_script in another."""
    facts = ScriptFacts(visited=[""])
    main = _Shell(facts, "before_script")
    for entry in sections.get("before_script", []):
        main.run(entry)
    main.section = "script"
    for entry in sections.get("script", []):
        main.run(entry)
    after = _Shell(facts, "after_script")
    for entry in sections.get("after_script", []):
        after.run(entry)
    return facts


# ---------------------------------------------------------------- words


@dataclass
class _Token:
    kind: str  # word | op
    value: str  # a word without its quotes
    raw: str


def _closing_paren(text: str, start: int) -> int:
    """Index just past the `)` matching the `(` at start; quotes inside are skipped."""
    depth = 0
    index = start
    while index < len(text):
        char = text[index]
        if char == "\\":
            index += 2
            continue
        if char in "'\"`":
            close = text.find(char, index + 1)
            index = len(text) if close == -1 else close + 1
            continue
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return index + 1
        index += 1
    return len(text)


def _double_quoted(text: str, start: int) -> tuple[str, int]:
    """The content of the double-quoted string opening at start, and the index past it."""
    value: list[str] = []
    index = start + 1
    while index < len(text) and text[index] != '"':
        if text[index] == "\\" and index + 1 < len(text):
            following = text[index + 1]
            value.append(following if following in '"\\$`\n' else "\\" + following)
            index += 2
        elif text.startswith("$(", index):
            end = _closing_paren(text, index + 1)
            value.append(text[index:end])
            index = end
        else:
            value.append(text[index])
            index += 1
    return "".join(value), index + 1


def tokens(text: str) -> list[_Token]:
    """Shell words and control operators; newlines are `;`, comments and heredoc bodies dropped."""
    found: list[_Token] = []
    value: list[str] = []
    word_start = -1
    heredocs: list[str] = []
    delimiter_next = False
    index = 0

    def finish(end: int) -> None:
        nonlocal word_start, delimiter_next
        if word_start < 0:
            return
        raw = text[word_start:end]
        word = "".join(value)
        if delimiter_next:
            heredocs.append(word)
            delimiter_next = False
        else:
            heredoc = re.match(r"^\d*<<(?!<)-?(.*)$", raw)
            if heredoc:
                rest = heredoc.group(1)
                if rest:
                    heredocs.append(rest.strip("'\""))
                else:
                    delimiter_next = True
        found.append(_Token("word", word, raw))
        value.clear()
        word_start = -1

    def begin() -> None:
        nonlocal word_start
        if word_start < 0:
            word_start = index

    while index < len(text):
        char = text[index]
        if char == "\\" and index + 1 < len(text):
            if text[index + 1] == "\n":
                finish(index)
                index += 2
                continue
            begin()
            value.append(text[index + 1])
            index += 2
        elif char == "'":
            begin()
            close = text.find("'", index + 1)
            close = len(text) if close == -1 else close
            value.append(text[index + 1 : close])
            index = close + 1
        elif char == '"':
            begin()
            content, index = _double_quoted(text, index)
            value.append(content)
        elif text.startswith("$(", index) or text.startswith("${", index) or char == "`":
            begin()
            if char == "`":
                close = text.find("`", index + 1)
                end = len(text) if close == -1 else close + 1
            elif text[index + 1] == "(":
                end = _closing_paren(text, index + 1)
            else:
                close = text.find("}", index)
                end = len(text) if close == -1 else close + 1
            value.append(text[index:end])
            index = end
        elif char == "#" and word_start < 0:
            newline = text.find("\n", index)
            index = len(text) if newline == -1 else newline
        elif char == "\n":
            finish(index)
            found.append(_Token("op", ";", "\n"))
            index += 1
            while heredocs:
                # The heredoc bodies follow this line: skip them, up to each delimiter line.
                delimiter = heredocs.pop(0)
                while index < len(text):
                    newline = text.find("\n", index)
                    line_end = len(text) if newline == -1 else newline
                    line = text[index:line_end]
                    index = line_end + 1
                    if line.strip() == delimiter:
                        break
        elif char in " \t\r":
            finish(index)
            index += 1
        elif char in "<>" or (char == "&" and (text[index - 1 : index] in ("<", ">") or text[index + 1 : index + 2] == ">")):
            # Redirections stay words: `2>&1`, `&>log`, `>/dev/null`.
            begin()
            value.append(char)
            index += 1
        elif char in ";&|()":
            finish(index)
            operator = text[index : index + 2]
            if operator not in ("&&", "||", ";;", "|&"):
                operator = char
            found.append(_Token("op", operator, operator))
            index += len(operator)
        else:
            begin()
            value.append(char)
            index += 1
    finish(len(text))
    return found


# ---------------------------------------------------------------- the shell


@dataclass
class _Place:
    """Where a shell is: a directory relative to the project, or None with how it got there."""

    cwd: str | None
    unknown: str = ""
    pushed: list[tuple[str | None, str]] = field(default_factory=list)

    def copy(self) -> _Place:
        return _Place(self.cwd, self.unknown, list(self.pushed))


class _Shell:
    def __init__(self, facts: ScriptFacts, section: str) -> None:
        self.facts = facts
        self.section = section
        self.place = _Place("")

    def run(self, text: str) -> None:
        saved: list[_Place] = []
        words: list[_Token] = []
        for token in tokens(text):
            if token.kind == "word":
                words.append(token)
                continue
            if token.value == "(" and all(word.raw in SHELL_KEYWORDS for word in words):
                saved.append(self.place.copy())
                words = []
                continue
            self._command(words)
            words = []
            if token.value == ")" and saved:
                self.place = saved.pop()
        self._command(words)
        if saved:
            # A subshell left open ends with the entry: the shell is where it was before it.
            self.place = saved[0]

    def _command(self, words: list[_Token]) -> None:
        while words and words[0].raw in SHELL_KEYWORDS:
            words = words[1:]
        if not words or words[0].value in ("for", "case", "select", "function") or words[0].raw.endswith("()"):
            return
        text = " ".join(word.raw for word in words)
        while words and ASSIGNMENT.match(words[0].raw):
            self._assignment(words[0], text)
            words = words[1:]
        if not words:
            return
        name, arguments = words[0].value, words[1:]
        if name in ("export", "declare", "typeset", "readonly", "local"):
            for argument in arguments:
                self._assignment(argument, text)
            return
        if name == "env":
            rest = _after_options(arguments)
            while rest and ASSIGNMENT.match(rest[0].raw):
                self._assignment(rest[0], text)
                rest = rest[1:]
            self._command(rest)
            return
        if name in WRAPPERS:
            self._command(_after_options(arguments))
            return
        if name in SHELLS and any(word.value == "-c" for word in arguments):
            values = [word.value for word in arguments]
            position = values.index("-c") + 1
            if position < len(values):
                child = _Shell(self.facts, self.section)
                child.place = self.place.copy()
                child.run(values[position])
            return
        if name == "cd":
            self._cd([word for word in arguments if word.value not in ("-P", "-L", "-e", "-@")])
            return
        if name == "pushd":
            self.place.pushed.append((self.place.cwd, self.place.unknown))
            self._cd([word for word in arguments if not word.value.startswith(("-", "+"))])
            return
        if name == "popd":
            if self.place.pushed:
                self.place.cwd, self.place.unknown = self.place.pushed.pop()
            else:
                self._enter_unknown("popd")
            return
        if name == "go" and [word.value for word in arguments[:2]] == ["env", "-w"]:
            for argument in arguments[2:]:
                self._assignment(argument, text, by_go_env=True)
            return
        self._note_go(text)

    def _assignment(self, word: _Token, command: str, *, by_go_env: bool = False) -> None:
        match = ASSIGNMENT.match(word.value)
        if match and match.group(1) in WATCHED_VARIABLES:
            shown = command if len(command) <= 120 else command[:117] + "..."
            self.facts.settings.append(
                Setting(match.group(1), match.group(2), self.section, self.place.cwd, shown, by_go_env)
            )

    def _note_go(self, text: str) -> None:
        found = list(GO_RUN.finditer(text))
        if not found and not GO_TOOL_COMMAND.search(text) and not MAKE_COMMAND.search(text):
            return
        self.facts.runs_go = True
        runs_in: list[tuple[str | None, str]] = []
        for match in found:
            if match.group("directory"):
                written = match.group("directory")
                runs_in.append(self._resolve(written.strip("'\""), written))
            else:
                runs_in.append((self.place.cwd, self.place.unknown))
        if not found:
            runs_in.append((self.place.cwd, self.place.unknown))
        for directory, unknown in runs_in:
            if directory is None:
                _add(self.facts.unknown_directories, unknown)
            else:
                _add(self.facts.go_directories, directory)

    def _cd(self, arguments: list[_Token]) -> None:
        if not arguments:
            self._enter_unknown("cd")
            return
        directory, unknown = self._resolve(arguments[0].value, arguments[0].raw)
        self.place.cwd, self.place.unknown = directory, unknown
        if directory is None:
            _add(self.facts.visited_unknown, unknown)
        else:
            _add(self.facts.visited, directory)

    def _enter_unknown(self, how: str) -> None:
        self.place.cwd, self.place.unknown = None, how
        _add(self.facts.visited_unknown, how)

    def _resolve(self, target: str, raw: str) -> tuple[str | None, str]:
        """A directory named in a script (relative to the shell's), as a project path, or None and
        how it was written."""
        project = PROJECT_DIR.match(target)
        if project:
            base: str | None = ""
            target = target[project.end() :].lstrip("/")
        elif target.startswith(("/", "~")) or target == "-":
            return None, raw
        else:
            base = self.place.cwd
        if base is None:
            return None, self.place.unknown
        if any(char in target for char in "$`*?[") or "\\" in target:
            return None, raw
        joined = keys._normal(f"{base}/{target}" if base else target or ".")
        if joined == ".." or joined.startswith("../"):
            return None, raw
        return joined, ""


def _after_options(words: list[_Token]) -> list[_Token]:
    index = 0
    while index < len(words) and words[index].value.startswith("-"):
        index += 1
    return words[index:]


def _add(items: list[str], item: str) -> None:
    if item not in items:
        items.append(item)


# ---------------------------------------------------------------- where values point


@dataclass(frozen=True)
class Place:
    kind: str  # inside | project | outside | relative | unknown
    directory: str = ""  # relative to the project directory, for `inside`
    detail: str = ""  # for `unknown`: what could not be worked out


def locate(value: str, variables: Mapping[str, str], cwd: str | None, *, list_of_paths: bool = False) -> Place:
    """Where a GOPATH/GOMODCACHE/GOCACHE value points. `variables` are the job's (for `$GOPATH/pkg/mod`);
    `cwd` is the shell's directory, for `$PWD`. GOPATH is a list: its first entry counts."""
    expanded = _expand(value, variables, cwd, 0)
    if isinstance(expanded, Place):
        return expanded
    if list_of_paths:
        expanded = expanded.split(":", 1)[0]
    if expanded.startswith(_PROJECT):
        rest = expanded[len(_PROJECT) :]
        if rest and not rest.startswith("/"):
            return Place("unknown", detail=value)
        directory = keys._normal(rest.lstrip("/") or ".")
        if directory == ".." or directory.startswith("../"):
            return Place("outside")
        return Place("project") if directory == "" else Place("inside", directory)
    if _PROJECT in expanded:
        return Place("unknown", detail=value)
    if expanded == "" or expanded.startswith(("/", "~")):
        return Place("outside")
    return Place("relative")


def _expand(value: str, variables: Mapping[str, str], cwd: str | None, depth: int) -> str | Place:
    if "$(" in value.replace("$(pwd)", "") or "`" in value.replace("`pwd`", ""):
        return Place("unknown", detail=value)
    parts: list[str] = []
    position = 0
    for match in EXPANSION.finditer(value):
        parts.append(value[position : match.start()])
        position = match.end()
        name = match.group(1) or match.group(2)
        if name == "CI_PROJECT_DIR":
            parts.append(_PROJECT)
        elif name in ("PWD", None):
            if cwd is None:
                return Place("unknown", detail=value)
            parts.append(_PROJECT + ("/" + cwd if cwd else ""))
        elif name == "HOME":
            parts.append("/home")
        elif name in variables and depth < 5:
            inner = _expand(variables[name], variables, cwd, depth + 1)
            if isinstance(inner, Place):
                return Place("unknown", detail=value)
            parts.append(inner)
        else:
            return Place("unknown", detail=value)
    parts.append(value[position:])
    expanded = "".join(parts)
    if "${" in expanded or "$" in expanded.replace("$$", ""):
        return Place("unknown", detail=value)
    return expanded
