"""Replay a repository's git history as CI runs and compare cache keying strategies.

Each first-parent commit of the branch is one push run on the default branch (commits whose
message says `[skip ci]`, `[ci skip]`, `[no ci]`, `[skip actions]` or `[actions skip]` start no
run, as on GitHub); with `pull_requests=True` every commit is also tried first as a
pull-request run. Only the history of go.sum, go.work.sum, go.mod and go.work files is read:
one `git ls-tree` for the first commit, then one streamed `git log --raw` gives their blob ids
at every commit that changed one, and those ids stand in for file contents in the key digests
(two files have the same blob id exactly when they have the same bytes, which is all a key
needs). File contents (go.sum lines, go.mod's Go version, go.work's `use` lines) come from one
`git cat-file --batch` process, once per blob.

Module downloads are counted on bit sets: every `module version` (and `.../go.mod`) line of
every go.sum seen gets one bit, a cache entry holds the bits of what it contains. That keeps
memory to a few kilobytes per distinct go.sum state and per saved entry.

The cache service is modelled as actions/cache uses it: entries are immutable; a lookup tries
the run's own ref and then the default branch, and in each scope the exact key, then the
newest entry whose key starts with the key, then the newest entry for each restore-key prefix
in order. Saving a key that already exists in the scope is refused and uploads nothing.
Eviction (7 days unused, the size limit) is not modelled.

The package: history.py (which commits, and the go-file changes between them), runs.py (what each
run sees), cache_service.py, strategies.py, replay.py (the counts per strategy), costs.py
(projected CI time) and text_output.py.
"""

from __future__ import annotations

from ci_gocache.simulation.cache_service import CacheEntry, CacheService
from ci_gocache.simulation.costs import COSTS_FORMAT, CostsError, load_costs, project_costs
from ci_gocache.simulation.history import (
    GO_FILE_NAMES,
    PATHSPECS,
    SKIP_MARKERS,
    BlobReader,
    Bound,
    Commit,
    History,
    HistoryError,
    parse_date,
    read_history,
    resolve_bound,
)
from ci_gocache.simulation.replay import DEFAULT_REF, simulate
from ci_gocache.simulation.runs import (
    EVENT_KINDS,
    SUM_NAMES,
    UNKNOWN_GO,
    ZERO_BLOB,
    BlobStream,
    RunInput,
    Snapshot,
    go_version_of,
    iter_runs,
)
from ci_gocache.simulation.strategies import (
    SIMULATED_ARCH,
    SIMULATED_JOB,
    SIMULATED_OS,
    STRATEGIES,
    STRATEGY_NAMES,
    CacheSpec,
    Strategy,
)
from ci_gocache.simulation.text_output import (
    ASCII_SPARKS,
    EVENT_LABELS,
    SPARKS,
    TABLE_HEADER,
    advice,
    percent,
    render_table,
    sparkline,
    strategy_rows,
    window_lines,
)

__all__ = [
    "ASCII_SPARKS", "COSTS_FORMAT", "DEFAULT_REF", "EVENT_KINDS", "EVENT_LABELS", "GO_FILE_NAMES", "PATHSPECS",
    "SIMULATED_ARCH", "SIMULATED_JOB", "SIMULATED_OS", "SKIP_MARKERS", "SPARKS", "STRATEGIES", "STRATEGY_NAMES",
    "SUM_NAMES", "TABLE_HEADER", "UNKNOWN_GO", "ZERO_BLOB", "BlobReader", "BlobStream", "Bound", "CacheEntry",
    "CacheService", "CacheSpec", "Commit", "CostsError", "History", "HistoryError", "RunInput", "Snapshot",
    "Strategy", "advice", "go_version_of", "iter_runs", "load_costs", "parse_date", "percent", "project_costs",
    "read_history", "render_table", "resolve_bound", "simulate", "sparkline", "strategy_rows", "window_lines",
]
