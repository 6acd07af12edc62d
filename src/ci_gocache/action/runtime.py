"""The steps of the ci-gocache GitHub Action (action.yml and save/action.yml).

Run straight from the action's checkout with the runner's Python and no installed packages, in
isolated mode so that nothing from the workspace (the current directory) or PYTHON* variables
can be imported in its place:

    python3 -I -S -c 'import sys; sys.path.insert(0, sys.argv[1]); ...main(sys.argv[2:])' \
        "$GITHUB_ACTION_PATH/src" <phase>

Standard library only, like the modules it uses (keys, trim, records). Phases, in job order,
each in its own module, imported only when it runs:

    keys          compute the keys and cache directories (Windows: move them to the faster drive)
                  (keys_phase.py)
    restored      after actions/cache/restore: hit kinds, sizes, restore seconds; back-date the
                  build cache so that what this job uses is marked (restored_phase.py)
    prepare-save  before actions/cache/save: trim what the job did not use; decide what to save
                  (prepare_save_phase.py)
    report        after actions/cache/save: the job summary and one record per cache in the log
                  (report_phase.py)

The phases pass their facts along in a JSON state file named by $CI_GOCACHE_STATE (state.py).
"""

from __future__ import annotations

import os
import sys

from ci_gocache.action.inputs import ActionError
from ci_gocache.action.workflow_commands import error

PHASES = ("keys", "restored", "prepare-save", "report")


def run_phase(name: str, env: dict[str, str]) -> int:
    """Import only the phase that runs: the key phase, which every job runs, does without the
    others' modules."""
    if name == "keys":
        from ci_gocache.action.keys_phase import phase_keys

        return phase_keys(env)
    if name == "restored":
        from ci_gocache.action.restored_phase import phase_restored

        return phase_restored(env)
    if name == "prepare-save":
        from ci_gocache.action.prepare_save_phase import phase_prepare_save

        return phase_prepare_save(env)
    from ci_gocache.action.report_phase import phase_report

    return phase_report(env)


def _utf8_output() -> None:
    """Windows runners' Python writes cp1252 to a pipe: a non-ASCII path would crash a print."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(encoding="utf-8", errors="backslashreplace")


def main(argv: list[str] | None = None) -> int:
    _utf8_output()
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or args[0] not in PHASES:
        print(f"usage: python -m ci_gocache.action.runtime {{{','.join(PHASES)}}}", file=sys.stderr)
        return 2
    try:
        return run_phase(args[0], dict(os.environ))
    except ActionError as problem:
        error(str(problem))
        return 2


if __name__ == "__main__":
    sys.exit(main())
