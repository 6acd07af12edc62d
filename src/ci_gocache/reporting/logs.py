"""Cache observations from job logs: the action's records first, then actions/cache and GitLab lines.

An observation is one cache restore in one job: which cache, exact/partial/miss, the key asked
for and the key restored, how long the restore took and how big the cache was.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass
from datetime import datetime, timezone

from ci_gocache.logtext import GITHUB_TIMESTAMP, strip_ansi
from ci_gocache.reporting.records import iter_records

HIT_KINDS = ("exact", "partial", "miss")


@dataclass
class Observation:
    cache: str
    hit: str
    key: str = ""
    matched_key: str = ""
    restore_seconds: float | None = None
    size_bytes: int | None = None
    source: str = ""  # record, actions-cache, setup-go, gitlab
    line: int = 0


# ---------------------------------------------------------------- cache labels

_DROPPABLE = re.compile(r"^(?:[0-9a-f]{8,}|\d+)$")


def cache_label(key: str) -> str:
    """A key without its content digest and run suffix: what stays the same from run to run."""
    parts = key.split("-")
    while len(parts) > 1 and (_DROPPABLE.match(parts[-1]) or parts[-1] == ""):
        parts.pop()
    return "-".join(parts)


# ---------------------------------------------------------------- GitHub job logs

_STEP_START = re.compile(r"^##\[group\]Run (\S+)")
_INPUT = re.compile(r"^  ([A-Za-z][\w-]*): ?(.*)$")
_RESTORED = re.compile(r"^Cache restored from key: (.+?)\s*$")
_NOT_FOUND = re.compile(r"^Cache not found for input keys: (.+?)\s*$")
_SIZE = re.compile(r"^Cache Size: ~?\d+ MB \((\d+) B\)")
_SETUP_GO_MISS = re.compile(r"^Cache is not found\s*$")
_RESTORE_FAILED = re.compile(r"^(?:##\[warning\]|Warning: )Failed to restore: ")


def _timestamp(line: str) -> tuple[float | None, str]:
    match = GITHUB_TIMESTAMP.match(line)
    if not match:
        return None, line
    fraction = (match.group(2) or "0")[:6].ljust(6, "0")
    moment = datetime.strptime(match.group(1), "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)
    return moment.timestamp() + int(fraction) / 1e6, line[match.end():]


@dataclass
class _Step:
    action: str
    started: float | None
    key: str = ""
    restore_keys: list[str] | None = None
    size: int | None = None
    in_inputs: bool = True
    last_input: str = ""
    done: bool = False


def parse_github_job_log(text: str) -> list[Observation]:
    """Observations in one GitHub Actions job log, records preferred over actions/cache lines."""
    observations: list[Observation] = []
    record_keys: set[str] = set()
    for line_number, record in iter_records(text):
        hit = str(record.get("hit", ""))
        if hit not in HIT_KINDS:
            continue
        key = str(record.get("key") or "")
        matched = str(record.get("matched_key") or "")
        record_keys.update(value for value in (key, matched) if value)
        observations.append(Observation(
            cache=str(record.get("cache") or cache_label(key) or "cache"), hit=hit, key=key, matched_key=matched,
            restore_seconds=_number(record.get("restore_seconds")), size_bytes=_integer(record.get("size_bytes")),
            source="record", line=line_number,
        ))

    step: _Step | None = None
    for line_number, raw in enumerate(text.split("\n"), start=1):
        moment, line = _timestamp(raw.rstrip("\r"))
        started = _STEP_START.match(line)
        if started:
            action = started.group(1)
            name = action.split("@")[0]
            step = _Step(name, moment) if name in ("actions/cache", "actions/cache/restore", "actions/setup-go") else None
            continue
        if step is None or step.done:
            continue
        if step.in_inputs:
            if line.startswith("##[endgroup]"):
                step.in_inputs = False
                continue
            field = _INPUT.match(line)
            if field:
                step.last_input = field.group(1)
                if step.last_input == "key":
                    step.key = field.group(2).strip()
                elif step.last_input == "restore-keys":
                    step.restore_keys = [field.group(2).strip()] if field.group(2).strip() else []
            elif step.last_input == "restore-keys" and step.restore_keys is not None and line.strip() and not line.startswith(("env:", "with:")):
                step.restore_keys.append(line.strip())
            continue
        size = _SIZE.match(line)
        if size:
            step.size = int(size.group(1))
            continue
        observation = _github_outcome(step, line, moment)
        if observation is not None:
            step.done = True
            observation.line = line_number
            if not ({observation.key, observation.matched_key} & record_keys):
                observations.append(observation)
    return observations


def _github_outcome(step: _Step, line: str, moment: float | None) -> Observation | None:
    seconds = round(moment - step.started, 3) if moment is not None and step.started is not None else None
    source = "setup-go" if step.action == "actions/setup-go" else "actions-cache"
    restored = _RESTORED.match(line)
    if restored:
        matched = restored.group(1)
        # setup-go prints no key input; its key has no restore keys, so a restore is exact.
        key = step.key or matched
        hit = "exact" if matched == key else "partial"
        return Observation(cache_label(key), hit, key, matched, seconds, step.size, source)
    missing = _NOT_FOUND.match(line)
    if missing:
        key = step.key or missing.group(1).split(", ")[0]
        return Observation(cache_label(key), "miss", key, "", seconds, None, source)
    if _SETUP_GO_MISS.match(line) or _RESTORE_FAILED.match(line):
        key = step.key or "setup-go"
        return Observation(cache_label(key), "miss", key, "", seconds, None, source)
    return None


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _integer(value: object) -> int | None:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


# ---------------------------------------------------------------- GitHub run log archives

_NUMBERED = re.compile(r"^(\d+)_(.+)\.txt$")


def jobs_from_run_logs_zip(data: bytes) -> dict[str, str]:
    """{job name: full log} from the archive GET /repos/{o}/{r}/actions/runs/{id}/logs returns.

    The archive has one `<n>_<job>.txt` per job at the top level and a `<job>/` folder with one
    `<n>_<step>.txt` per step. The top-level file is used when present; otherwise the steps are
    joined in order.
    """
    jobs: dict[str, str] = {}
    steps: dict[str, list[tuple[int, str]]] = {}
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for info in archive.infolist():
            if info.is_dir():
                continue
            parts = info.filename.split("/")
            text = archive.read(info).decode("utf-8-sig", "replace")
            numbered = _NUMBERED.match(parts[-1])
            if len(parts) == 1 and numbered:
                jobs[numbered.group(2)] = text
            elif len(parts) == 2 and numbered:
                steps.setdefault(parts[0], []).append((int(numbered.group(1)), text))
    for job, pieces in steps.items():
        if job not in jobs:
            jobs[job] = "".join(text if text.endswith("\n") else text + "\n" for _, text in sorted(pieces))
    return jobs


# ---------------------------------------------------------------- GitLab job traces

_SECTION = re.compile(r"section_(start|end):(\d+):([\w.-]+)")
_CHECKING = re.compile(r"Checking cache for (.+?)\.\.\.")
_EXTRACTED = re.compile(r"Successfully extracted cache")
_SCOPE_SUFFIX = re.compile(r"-(?:non_)?protected$")


def gitlab_label(key: str) -> str:
    return cache_label(_SCOPE_SUFFIX.sub("", key))


def _same_cache(primary: str, candidate: str) -> bool:
    """Whether `candidate` looks like a fallback key of `primary`: the same label, or the same first two parts."""
    first, second = gitlab_label(primary).split("-"), gitlab_label(candidate).split("-")
    if first == second:
        return True
    shared = 0
    for left, right in zip(first, second):
        if left != right:
            break
        shared += 1
    return shared >= 2


def parse_gitlab_trace(text: str) -> list[Observation]:
    """Observations in one GitLab job trace (plus any ci-gocache records in it).

    A "Checking cache for K..." right after a miss is taken as a fallback key of the same cache
    (cache:fallback_keys) when K shares the missed key's label or its first two dash-separated
    parts (go-mod-main after go-mod-<digest>); otherwise it starts the next cache of the job.
    """
    observations = [
        Observation(str(record.get("cache") or "cache"), str(record["hit"]), str(record.get("key") or ""),
                    str(record.get("matched_key") or ""), _number(record.get("restore_seconds")),
                    _integer(record.get("size_bytes")), "record", number)
        for number, record in iter_records(text) if record.get("hit") in HIT_KINDS
    ]
    gitlab: list[Observation] = []
    section_start: float | None = None
    current: Observation | None = None
    trying = ""  # the key whose archive the runner is extracting now
    in_section: list[Observation] = []
    for number, raw in enumerate(text.split("\n"), start=1):
        for kind, stamp, name in _SECTION.findall(raw):
            if name != "restore_cache":
                continue
            if kind == "start":
                section_start, in_section = float(stamp), []
            elif section_start is not None:
                # The runner restores a job's caches one after another in one section: share its time out.
                seconds = (float(stamp) - section_start) / max(1, len(in_section))
                for observation in in_section:
                    observation.restore_seconds = round(seconds, 3)
                section_start = None
        line = strip_ansi(raw.replace("\r", ""))
        checking = _CHECKING.search(line)
        if checking:
            trying = checking.group(1)
            fallback = current is not None and current.hit == "miss" and _same_cache(current.key, trying)
            if not fallback:
                current = Observation(gitlab_label(trying), "miss", trying, "", None, None, "gitlab", number)
                gitlab.append(current)
                in_section.append(current)
        elif current is not None and _EXTRACTED.search(line):
            current.matched_key = trying
            current.hit = "exact" if trying == current.key else "partial"
    return observations + gitlab
