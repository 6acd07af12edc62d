"""Why a cache would miss: the keys of now against a previous key or previous go.sum files.

A previous key names the key parts it was made of, so the first part that differs says why
a restore would miss. Its go.sum digest is found again in git history (the commits that
touched the sum files), which names the commit it came from and the go.sum files that
changed since. Standard library only.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ci_gocache import keys

HISTORY_LIMIT = 500
_DIGEST = re.compile(r"[0-9a-f]{64}")


# ---------------------------------------------------------------- go.sum contents


def go_sum_versions(text: str) -> dict[str, set[str]]:
    """module path -> the versions a go.sum lists for it (the /go.mod lines folded in)."""
    versions: dict[str, set[str]] = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) != 3:
            continue
        module, version = fields[0], fields[1].removesuffix("/go.mod")
        versions.setdefault(module, set()).add(version)
    return versions


def go_sum_changes(old_text: str, new_text: str) -> dict[str, list[str]]:
    """Module versions added, removed and moved between two go.sum texts."""
    old, new = go_sum_versions(old_text), go_sum_versions(new_text)
    added, removed, changed = [], [], []
    for module in sorted(set(old) | set(new)):
        before, after = old.get(module, set()), new.get(module, set())
        if before == after:
            continue
        if not before:
            added.extend(f"{module}@{version}" for version in sorted(after))
        elif not after:
            removed.extend(f"{module}@{version}" for version in sorted(before))
        else:
            changed.append(f"{module} {' '.join(sorted(before - after)) or '(kept)'} -> {' '.join(sorted(after - before)) or '(dropped)'}")
    return {"added": added, "removed": removed, "changed": changed}


def _describe_changes(changes: dict[str, list[str]]) -> str:
    parts = []
    for label, sign in (("added", "+"), ("removed", "-"), ("changed", "~")):
        parts.extend(f"{sign} {item}" for item in changes[label])
    return "; ".join(parts) if parts else "only checksum lines changed"


# ---------------------------------------------------------------- git history


@dataclass
class HistoryMatch:
    commit: str
    date: str
    subject: str
    files: dict[str, bytes | None] = field(default_factory=dict)  # path -> content then (None: absent)


def _git(root: Path, *args: str, stdin: bytes | None = None) -> bytes | None:
    try:
        completed = subprocess.run(["git", "-C", str(root), *args], input=stdin, capture_output=True, check=False)
    except FileNotFoundError:
        return None
    return completed.stdout if completed.returncode == 0 else None


def _blobs(root: Path, specs: list[str]) -> list[bytes | None]:
    """The contents of `rev:path` specs through one `git cat-file --batch`."""
    output = _git(root, "cat-file", "--batch", stdin="".join(spec + "\n" for spec in specs).encode())
    if output is None:
        return [None] * len(specs)
    contents: list[bytes | None] = []
    position = 0
    for _ in specs:
        newline = output.index(b"\n", position)
        header = output[position:newline].split()
        position = newline + 1
        if len(header) == 3 and header[1] == b"blob":
            size = int(header[2])
            contents.append(output[position : position + size])
            position += size + 1
        else:
            contents.append(None)
    return contents


def find_digest_in_history(root: Path, sum_files: list[str], digest: str, limit: int = HISTORY_LIMIT) -> HistoryMatch | None:
    """The newest commit at which `sum_files` hashed (as hashFiles does) to `digest`."""
    prefix_raw = _git(root, "rev-parse", "--show-prefix")
    if prefix_raw is None or not sum_files:
        return None
    prefix = prefix_raw.decode().strip()
    log = _git(root, "log", f"-n{limit}", "--format=%H%x09%cs%x09%s", "--", *sum_files)
    if not log:
        return None
    states = [(line.split("\t", 2) + ["", ""])[:3] for line in log.decode(errors="replace").splitlines()]
    if states:  # the state before the oldest of those commits
        parent = _git(root, "rev-parse", "--verify", "-q", f"{states[-1][0]}^")
        if parent:
            states.append([parent.decode().strip(), "", f"the parent of {states[-1][0][:12]}"])
    for commit, date, subject in states:
        contents = _blobs(root, [f"{commit}:{prefix}{path}" for path in sum_files])
        present = [content for content in contents if content is not None]
        combined = hashlib.sha256()
        for content in present:
            combined.update(hashlib.sha256(content).digest())
        if present and combined.hexdigest() == digest:
            return HistoryMatch(commit, date, subject, dict(zip(sum_files, contents)))
    return None


# ---------------------------------------------------------------- explanations


@dataclass
class Explanation:
    cache: str  # module | build
    previous_key: str
    verdict: str  # exact | partial | miss
    reasons: list[str]
    matched_restore_key: str = ""
    history: dict[str, Any] | None = None
    changed_files: dict[str, str] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "cache": self.cache,
            "previous_key": self.previous_key,
            "verdict": self.verdict,
            "matched_restore_key": self.matched_restore_key,
            "reasons": self.reasons,
            "history": self.history,
            "changed_files": self.changed_files,
        }


def _first_difference(previous: str, components: list[tuple[str, str]]) -> str:
    """Which key part differs first, walking the parts the current key is made of."""
    built = ""
    for label, value in components:
        candidate = f"{built}-{value}" if built else value
        if not previous.startswith(candidate + "-") and previous != candidate:
            if not built:
                return f"the {label} differs: the previous key does not start with {value!r}"
            seen = previous[len(built) + 1 :].split("-", 1)[0]
            return f"the {label} differs: now {value!r}, the previous key has {seen!r}"
        built = candidate
    return "the key parts match but the go.sum digest differs"


def _previous_digest(previous: str) -> str:
    found = _DIGEST.findall(previous)
    return found[-1] if found else ""


def explain_previous_key(root: Path, current: keys.WorkspaceKeys, previous: str) -> Explanation:
    parts = current.parts
    if f"-{keys.MODULE_KIND}-" in previous:
        cache, key, restore = "module", current.module_key, current.module_restore_keys
        components = [("key prefix", parts.prefix), ("runner OS", parts.os_name), ("runner arch", parts.arch), ("cache kind", keys.MODULE_KIND)]
    elif f"-{keys.BUILD_KIND}-" in previous:
        cache, key, restore = "build", current.build_key, current.build_restore_keys
        components = [("key prefix", parts.prefix), ("runner OS", parts.os_name), ("runner arch", parts.arch), ("cache kind", keys.BUILD_KIND)]
        components += [("Go version", parts.go_version), ("job and matrix scope", f"{parts.job}{keys.JOB_END}{parts.scope}")]
    else:
        raise ValueError(f"{previous!r} is not a ci-gocache module or build key (no -{keys.MODULE_KIND}- or -{keys.BUILD_KIND}-)")
    if previous == key:
        return Explanation(cache, previous, "exact", ["the key is the same: an exact hit"], previous)
    explanation = Explanation(cache, previous, "miss", [])
    for restore_key in restore:
        if previous.startswith(restore_key):
            explanation.verdict, explanation.matched_restore_key = "partial", restore_key
            break
    digest_same = _previous_digest(previous) == parts.sums_digest and parts.sums_digest != ""
    if explanation.verdict == "miss":
        explanation.reasons.append(_first_difference(previous, components) + "; no restore key matches it")
    elif cache == "build" and digest_same:
        explanation.reasons.append(
            "same go.sum files and scope, another run: build keys end with the run id, so a partial "
            "restore of the newest build cache is the warm case"
        )
    else:
        explanation.reasons.append(
            f"the exact key misses; it restores partially through the restore key {explanation.matched_restore_key}"
        )
    if not digest_same and _previous_digest(previous):
        explanation.reasons.append("the go.sum digest differs: the dependencies changed")
        _add_history(root, current, _previous_digest(previous), explanation)
    return explanation


def _add_history(root: Path, current: keys.WorkspaceKeys, digest: str, explanation: Explanation) -> None:
    match = find_digest_in_history(root, list(current.sum_files), digest)
    if match is None:
        explanation.reasons.append(
            f"no commit in the last {HISTORY_LIMIT} that touched {', '.join(current.sum_files) or 'the go.sum files'} hashes to the previous digest"
        )
        return
    explanation.history = {"commit": match.commit, "date": match.date, "subject": match.subject}
    for path, old in match.files.items():
        new = (root / path).read_bytes()
        if old is None:
            explanation.changed_files[path] = "added since"
        elif old != new:
            explanation.changed_files[path] = _describe_changes(go_sum_changes(old.decode(errors="replace"), new.decode(errors="replace")))
    when = f" ({match.date})" if match.date else ""
    explanation.reasons.append(f"the previous digest is the go.sum files at commit {match.commit[:12]}{when}: {match.subject}")


def explain_previous_sums(root: Path, current: keys.WorkspaceKeys, previous: dict[str, str]) -> Explanation:
    """previous: sum-file path (relative to root) -> the text it had before."""
    contents = []
    changed: dict[str, str] = {}
    for path in current.sum_files:
        new_bytes = (root / path).read_bytes()
        old_text = previous.get(path)
        old_bytes = new_bytes if old_text is None else old_text.encode()
        contents.append(old_bytes)
        if old_bytes != new_bytes:
            changed[path] = _describe_changes(go_sum_changes(old_text or "", new_bytes.decode(errors="replace")))
    combined = hashlib.sha256()
    for content in contents:
        combined.update(hashlib.sha256(content).digest())
    old_parts = current.parts._replace(sums_digest=combined.hexdigest())
    previous_key = keys.module_cache_key(old_parts)
    if not changed:
        return Explanation("module", previous_key, "exact", ["the go.sum files are the same: the module cache would hit exactly"], previous_key)
    explanation = Explanation("module", previous_key, "partial", [], current.module_restore_keys[0], changed_files=changed)
    explanation.reasons.append(
        f"{len(changed)} go.sum file(s) changed, so the module key changes: the module cache restores partially "
        f"through {current.module_restore_keys[0]} and the build cache through {current.build_restore_keys[1]}"
    )
    return explanation
