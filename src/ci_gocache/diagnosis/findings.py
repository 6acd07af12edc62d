"""A log line cleaned as a person reads it, and the Finding a rule makes of it: the details the line
itself names, filled into the rule's cause and fix."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ci_gocache.diagnosis.rules import Rule
from ci_gocache.logtext import GITHUB_TIMESTAMP, GITLAB_TIMESTAMP, strip_ansi


MAX_RAW = 16384  # bytes of a raw line kept (ANSI codes and prefixes included)
MAX_MATCH = 4096  # characters of a cleaned line the rules see
MAX_REPEATS = 100  # line numbers kept per finding for "again at lines"

# ---------------------------------------------------------------- cleaning lines

_BUILDKIT = re.compile(r"^#\d{1,6} (?:\d{1,6}\.\d{1,6} )?")
_GITLAB_SECTION = re.compile(r"section_(?:start|end):\d{1,20}:[\w.-]{1,200}(?:\[[^\]]{0,500}\])?\r?")
_ANNOTATION = re.compile(r"^##\[(warning|error|notice|debug)\]")
DOCKER_MARKERS = re.compile(
    r"^#\d{1,6} \[[^\]]{0,300}\] (?:RUN|FROM|COPY)|^Step \d{1,4}/\d{1,4} : |failed to solve:|^#\d{1,6} (?:DONE|ERROR|CACHED)|docker build"
)
_URL_IN_LINE = re.compile(r"(?:Get|Post|Head|Put) \"(https?://[^\"\s]{1,600})\"|(https?://[^\s\"'<>]{1,600})")
_DIAL_TARGET = re.compile(r"dial tcp (\[?[\w.:-]{1,300}?\]?):(\d{1,5}): ")
# go's "module@version: ...:" error whose message goes on in the indented lines below it (git's output).
MESSAGE_HEAD = re.compile(r"^(?:go: )?(?:module )?(?P<module>[^\s:@'\"]{1,300})@(?P<version>[^\s:@'\"]{1,128}): ")
SERVER_DB_LINE = re.compile(r"^\s+(?P<db>[^\s:]{1,253}): {1,20}h1:")


def clean_line(raw: str) -> str:
    """The line as a person reads it on screen, without what the CI service added around it."""
    line = raw[:MAX_RAW].rstrip("\r\n")
    if "\r" in line:
        # A terminal shows only what follows the last carriage return.
        line = line.rsplit("\r", 1)[-1] or line.replace("\r", "")
    line = strip_ansi(line)
    if "section_" in line:
        line = _GITLAB_SECTION.sub("", line)
    # GitLab's stamp first: GitHub's pattern would take its time and leave the stream marker.
    line = GITLAB_TIMESTAMP.sub("", line, count=1)
    line = GITHUB_TIMESTAMP.sub("", line, count=1)
    line = _BUILDKIT.sub("", line, count=1)
    annotation = _ANNOTATION.match(line)
    if annotation:
        line = annotation.group(1).capitalize() + ": " + line[annotation.end():]
    return line[:MAX_MATCH]


# ---------------------------------------------------------------- findings


@dataclass
class Finding:
    rule: str
    category: str
    severity: str
    line: int
    text: str
    cause: str
    fix: str
    rank: int
    details: dict[str, str] = field(default_factory=dict)
    repeated_at: list[int] = field(default_factory=list)
    repeats: int = 0
    caused_by: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule, "category": self.category, "severity": self.severity, "line": self.line,
            "text": self.text, "cause": self.cause, "fix": self.fix, "details": self.details,
            "repeated_at": self.repeated_at, "repeats": self.repeats, "caused_by": self.caused_by,
        }


def _host_of(url: str) -> str:
    match = re.match(r"https?://([^/\s\"']{1,300})", url or "")
    return match.group(1) if match else ""


def private_pattern(module: str) -> str:
    """The GOPRIVATE pattern to suggest: the organisation on code hosts, the whole host elsewhere."""
    parts = [part for part in module.split("/") if part]
    if not parts:
        return "example.com/yourorg/*"
    if parts[0] in ("github.com", "gitlab.com", "bitbucket.org") and len(parts) > 1:
        return f"{parts[0]}/{parts[1]}/*"
    if "." not in parts[0]:
        return "example.com/yourorg/*"
    return f"{parts[0]}/*"


def line_details(match: re.Match[str], line: str) -> dict[str, str]:
    """What the matched line itself says: never another line's module or host."""
    values = {name: value for name, value in match.groupdict().items() if value}
    for base in ("url", "error"):
        alternative = values.pop(f"{base}2", None)
        if alternative and base not in values:
            values[base] = alternative
    if "sshhost" in values:
        values["host"] = values.pop("sshhost")
    if "url" not in values and "host" not in values:
        url = _URL_IN_LINE.search(line)
        if url:
            values["url"] = url.group(1) or url.group(2)
    if "url" in values and "host" not in values:
        values["host"] = _host_of(values["url"])
    if "host" not in values:
        target = _DIAL_TARGET.search(line)
        if target:
            values["host"] = f"{target.group(1)}:{target.group(2)}"
    if "module" not in values and "url" in values and "/@v/" not in values["url"]:
        proxy_path = re.match(r"https?://[^/\s]{1,300}/([^\s]{1,600})$", values["url"])
        if proxy_path and "." in proxy_path.group(1).split("/")[0]:
            values["module"] = proxy_path.group(1)
    return values


def fill_template(template: str, values: dict[str, str]) -> str:
    module = values.get("module", "")
    host = values.get("host", "")
    first = module.split("/")[0] if module else ""
    # The repository host (for git credentials) comes from the module path, not from the proxy URL.
    repo_host = first if "." in first and not re.match(r"^[\d.]+(:\d+)?$", first) else (host or "<your git host>")
    resolver = values.get("resolver", "")
    filled = {
        "module": module or "the module",
        "version": values.get("version", "").removesuffix("/go.mod") or "this version",
        "host": host or "the server (the line names no host)",
        "repo_host": repo_host,
        "private": private_pattern(module) if module else (f"{host}/*" if host else "example.com/yourorg/*"),
        "url": values.get("url", "the repository"),
        "status": values.get("status", "an error"),
        "error": values.get("error", "").strip().rstrip("."),
        "key": values.get("key", ""),
        "mb": values.get("mb", ""),
        "dir": values.get("dir", "the module"),
        "path": values.get("path", ""),
        "pattern": values.get("pattern", "go.sum"),
        "what": "go.mod file" if values.get("what") == "go.mod" or values.get("gomod") else "module zip",
        "db": values.get("db", "sum.golang.org"),
        "resolver_text": f" (resolver {resolver})" if resolver else "",
    }
    if filled["status"] == "an error" and values.get("other"):
        filled["status"] = values["other"]
    return template.format(**filled)


def explained_cause(rule: Rule, finding: Finding) -> str:
    """The cause of a finding that an earlier one explains."""
    if rule.id == "actions-cache-reserve":
        return (f"The save was refused because the key {finding.details.get('key', '')} already exists: the restore "
                f"at line {finding.caused_by} found this entry but could not use it, and entries are immutable. "
                "Not a concurrent job: fix the failed restore.")
    return f"A consequence of the failure at line {finding.caused_by}; fix that one first."
