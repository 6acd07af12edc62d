"""The machine-readable run record: one JSON line per cache per job, written to the job log.

The action prints `format_record(...)` once for each cache it restores and saves; `ci-gocache
report` finds those lines again in downloaded job logs (`ci_gocache.reporting.records`). A log line is the
one channel every CI keeps with the run and serves back through its API (GitHub run logs,
GitLab job traces), unlike artifacts or step summaries. Standard library only: the action runs
this file straight from its checkout.

Line format (the marker, one space, compact JSON with sorted keys, ASCII only):

    ci-gocache-record: {"cache":"mod","hit":"exact","key":"...","v":1,...}

Fields (all optional but `cache` and `hit`; unknown fields are kept, so new ones can be added):

    v                 int    record format version, 1 (added when missing)
    cache             str    "mod" (module cache) or "build" (build cache)
    hit               str    "exact", "partial" or "miss"
    key               str    the primary key asked for
    restore_keys      list   the restore-key prefixes, in order
    matched_key       str    the key actually restored ("" on a miss)
    restore_seconds   float  time the restore took
    size_bytes        int    size of the restored (or saved) cache archive
    saved             bool   whether this run uploaded the cache
    save_seconds      float  time the save took
    trimmed_entries   int    build-cache entries dropped before saving
    trimmed_bytes     int    bytes dropped before saving
    new_entries       int    build-cache entries this job added to what it restored
    job               str    job id (GITHUB_JOB / CI_JOB_NAME)
    workflow          str    workflow name
    run_id            str    run id (GITHUB_RUN_ID / CI_PIPELINE_ID)
    ref               str    the git ref the run was for
    os, arch          str    runner OS and architecture
"""

from __future__ import annotations

import json

TYPE_CHECKING = False  # typing only for annotations: the action imports this in every phase
if TYPE_CHECKING:
    from typing import Any

RECORD_MARKER = "ci-gocache-record:"
RECORD_VERSION = 1
HIT_KINDS = ("exact", "partial", "miss")


def format_record(record: dict[str, Any]) -> str:
    """The log line for one record, without a trailing newline. Raises TypeError for non-JSON values."""
    body = dict(record)
    body.setdefault("v", RECORD_VERSION)
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return f"{RECORD_MARKER} {text}"
