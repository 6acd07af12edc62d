"""Reading a Dockerfile the way BuildKit's parser does, keeping every instruction's offsets.

The rules follow BuildKit's frontend/dockerfile/parser: parser directives (`# syntax=`,
`# escape=`, `# check=`) only at the very top; the escape token (`\\` or a backtick) at the
end of a line continues it; comment lines and blank lines inside a continuation are dropped;
RUN, COPY and ADD may carry heredocs (`<<EOF`, `<<-EOF`, `<<"EOF"`) whose bodies follow the
instruction line. Nothing here edits text: the planner reads offsets and produces Edits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ci_gocache.errors import InputError, line_col_of_offset

KNOWN_INSTRUCTIONS = {
    "ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK", "LABEL",
    "MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR",
}
HEREDOC_INSTRUCTIONS = {"RUN", "COPY", "ADD"}
DIRECTIVE = re.compile(r"^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$")
VALID_DIRECTIVES = {"syntax", "escape", "check"}
HEREDOC_WORD = re.compile(r"^(\d*)<<(-?)\s*([^<]*)$")


@dataclass
class Heredoc:
    name: str
    chomp: bool
    body: str


@dataclass
class Instruction:
    keyword: str  # upper case
    keyword_as_written: str
    start: int  # offset of the first line
    keyword_end: int  # offset just past the keyword
    end: int  # offset just past the last line (heredoc bodies included)
    line: int
    col: int
    logical: str  # everything after the keyword, continuations joined, comment lines dropped
    flags: list[str]  # leading `--name[=value]` words
    args: str  # the logical text after the flags
    heredocs: list[Heredoc] = field(default_factory=list)
    comment_start: int = 0  # where the comment lines directly above begin
    continuation_indent: str = ""  # indentation of its first continuation line, if any

    @property
    def json_form(self) -> bool:
        return self.args.lstrip().startswith("[")

    def flag_values(self, name: str) -> list[str]:
        values = []
        for flag in self.flags:
            key, _, value = flag[2:].partition("=")
            if key.lower() == name:
                values.append(value)
        return values


@dataclass
class DockerfileSyntax:
    directives: dict[str, tuple[str, int]]  # name -> (value, line)
    escape: str
    instructions: list[Instruction]
    directives_end: int  # offset just past the directive lines


def parse_dockerfile(text: str, shown: str) -> DockerfileSyntax:
    _refuse_lone_carriage_returns(text, shown)
    lines = _physical_lines(text)
    directives: dict[str, tuple[str, int]] = {}
    escape = "\\"
    index = 0
    directives_end = 0
    while index < len(lines):
        start, content = lines[index]
        match = DIRECTIVE.match(content.strip("\r\n").lstrip())
        if not match or match.group(1).lower() not in VALID_DIRECTIVES:
            break
        name = match.group(1).lower()
        if name in directives:
            raise InputError(shown, index + 1, 1, f"the {name} parser directive appears twice; keep one")
        value = match.group(2)
        if name == "escape":
            if value not in ("\\", "`"):
                raise InputError(shown, index + 1, 1, f"escape directive {value!r} is not \\ or `; fix it")
            escape = value
        directives[name] = (value, index + 1)
        index += 1
        directives_end = start + len(content)
    continuation = re.compile(re.escape(escape) + r"[ \t]*$")
    instructions: list[Instruction] = []
    comment_block_start: int | None = None
    while index < len(lines):
        start, content = lines[index]
        stripped = content.strip("\r\n")
        if _is_comment(stripped):
            if comment_block_start is None:
                comment_block_start = start
            index += 1
            continue
        if not stripped.strip():
            comment_block_start = None
            index += 1
            continue
        first_line_index = index
        body = stripped.lstrip()
        leading = len(stripped) - len(body)
        pieces: list[str] = []
        ended = not continuation.search(body)
        pieces.append(continuation.sub("", body) if not ended else body)
        index += 1
        continuation_indent = ""
        # Where the keyword is: a line of only the escape token joins the next one, so the
        # keyword can sit on a later physical line than the instruction's first.
        keyword_line_index, keyword_start = first_line_index, start + leading
        while not ended and index < len(lines):
            more_start, more = lines[index]
            more_text = more.strip("\r\n")
            index += 1
            if _is_comment(more_text):
                continue
            if not more_text.strip():
                continue
            if not "".join(pieces).strip():
                keyword_line_index = index - 1
                keyword_start = more_start + len(more_text) - len(more_text.lstrip())
            elif not continuation_indent:
                continuation_indent = more_text[: len(more_text) - len(more_text.lstrip())]
            ended = not continuation.search(more_text)
            pieces.append(more_text if ended else continuation.sub("", more_text))
        logical_line = "".join(pieces).lstrip()
        keyword_match = re.match(r"(\S+)", logical_line)
        if keyword_match is None:
            raise InputError(
                shown, first_line_index + 1, leading + 1,
                f"a line of only {escape} continues into nothing at the end of the file; remove it",
            )
        keyword_as_written = keyword_match.group(1)
        keyword = keyword_as_written.upper()
        line_number = keyword_line_index + 1
        col = keyword_start - lines[keyword_line_index][0] + 1
        if keyword not in KNOWN_INSTRUCTIONS:
            raise InputError(
                shown, line_number, col, f"unknown instruction {keyword_as_written!r}; fix the Dockerfile (is this a Dockerfile?)"
            )
        logical = logical_line[len(keyword_as_written) :]
        flags, args = split_flags(logical, escape)
        heredocs: list[Heredoc] = []
        if keyword in HEREDOC_INSTRUCTIONS and "<<" in logical and not args.lstrip().startswith("["):
            for name, chomp in _heredoc_markers(logical):
                collected: list[str] = []
                terminated = False
                while index < len(lines):
                    _, more = lines[index]
                    index += 1
                    candidate = more.rstrip("\r\n")
                    if chomp:
                        candidate = candidate.lstrip("\t")
                    if candidate == name:
                        terminated = True
                        break
                    collected.append(more)
                if not terminated:
                    raise InputError(
                        shown, line_number, col, f"heredoc <<{name} is never closed; add a line with just {name}"
                    )
                heredocs.append(Heredoc(name, chomp, "".join(collected)))
        end = lines[index - 1][0] + len(lines[index - 1][1])
        instructions.append(
            Instruction(
                keyword=keyword,
                keyword_as_written=keyword_as_written,
                start=start,
                keyword_end=keyword_start + len(keyword_as_written),
                end=end,
                line=line_number,
                col=col,
                logical=logical,
                flags=flags,
                args=args,
                heredocs=heredocs,
                comment_start=comment_block_start if comment_block_start is not None else start,
                continuation_indent=continuation_indent,
            )
        )
        comment_block_start = None
    if not instructions:
        raise InputError(shown, 1, 1, "no instructions; this is not a Dockerfile")
    first = next((item for item in instructions if item.keyword != "ARG"), None)
    if first is None or first.keyword != "FROM":
        where = first or instructions[0]
        raise InputError(
            shown, where.line, where.col, f"{where.keyword} before the first FROM; a Dockerfile starts with FROM (ARG may come first)"
        )
    return DockerfileSyntax(directives, escape, instructions, directives_end)


def _refuse_lone_carriage_returns(text: str, shown: str) -> None:
    """BuildKit ends lines at LF only: a CR-only file is one long line to it."""
    match = re.search(r"\r(?!\n)", text)
    if match is not None:
        line, col = line_col_of_offset(text, match.start())
        raise InputError(
            shown, line, col,
            "a carriage return without a line feed: BuildKit ends lines at LF only, so it reads this "
            "file differently; convert the line endings to LF (or CRLF)",
        )


def _physical_lines(text: str) -> list[tuple[int, str]]:
    """Lines as BuildKit splits them: at LF only (a form feed or U+2028 is not a line end)."""
    lines: list[tuple[int, str]] = []
    position = 0
    for piece in _lf_lines(text):
        lines.append((position, piece))
        position += len(piece)
    return lines


def _lf_lines(text: str) -> list[str]:
    pieces = text.split("\n")
    lines = [piece + "\n" for piece in pieces[:-1]]
    if pieces[-1]:
        lines.append(pieces[-1])
    return lines


def _is_comment(line: str) -> bool:
    return line.lstrip().startswith("#")


def shell_words(text: str, escape: str = "\\") -> list[str]:
    """Whitespace-separated words; quotes group, and are kept as written."""
    words: list[str] = []
    current: list[str] = []
    quote = ""
    in_word = False
    position = 0
    while position < len(text):
        char = text[position]
        if quote:
            current.append(char)
            if char == escape and quote == '"' and position + 1 < len(text):
                current.append(text[position + 1])
                position += 2
                continue
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
            current.append(char)
            in_word = True
        elif char == escape and position + 1 < len(text):
            current.append(char + text[position + 1])
            in_word = True
            position += 2
            continue
        elif char.isspace():
            if in_word:
                words.append("".join(current))
                current = []
                in_word = False
        else:
            current.append(char)
            in_word = True
        position += 1
    if in_word:
        words.append("".join(current))
    return words


def split_flags(logical: str, escape: str = "\\") -> tuple[list[str], str]:
    """The leading `--flag` words of an instruction, and the text after them."""
    flags: list[str] = []
    rest = logical
    while True:
        stripped = rest.lstrip()
        if not stripped.startswith("--"):
            return flags, stripped
        words = shell_words(stripped, escape)
        if not words:
            return flags, stripped
        word = words[0]
        flags.append(unquote(word))
        rest = stripped[_raw_length(stripped, word) :]


def _raw_length(text: str, word: str) -> int:
    """How many characters of `text` the first word took (words keep their raw spelling)."""
    return text.index(word) + len(word) if word in text else len(word)


def unquote(word: str) -> str:
    out: list[str] = []
    quote = ""
    for char in word:
        if quote:
            if char == quote:
                quote = ""
            else:
                out.append(char)
        elif char in "'\"":
            quote = char
        else:
            out.append(char)
    return "".join(out)


def _heredoc_markers(logical: str) -> list[tuple[str, bool]]:
    markers = []
    for word in shell_words(logical):
        match = HEREDOC_WORD.match(word)
        if not match or not match.group(3):
            continue
        name = unquote(match.group(3))
        if name:
            markers.append((name, match.group(2) == "-"))
    return markers


def parse_mount(value: str) -> dict[str, str]:
    """`type=cache,target=/x,id=y` as a dict; bare words (`ro`, `required`) map to ''."""
    fields: dict[str, str] = {}
    for part in _csv_fields(value):
        key, sep, field_value = part.partition("=")
        key = key.strip().lower()
        if key in ("dst", "destination"):
            key = "target"
        if key == "src":
            key = "source"
        fields[key] = field_value.strip() if sep else ""
    fields.setdefault("type", "bind")
    return fields


def _csv_fields(value: str) -> list[str]:
    fields: list[str] = []
    current: list[str] = []
    quote = False
    for char in value:
        if char == '"':
            quote = not quote
            continue
        if char == "," and not quote:
            fields.append("".join(current))
            current = []
            continue
        current.append(char)
    fields.append("".join(current))
    return [item for item in fields if item.strip()]


def offset_position(text: str, offset: int) -> tuple[int, int]:
    return line_col_of_offset(text, offset)
