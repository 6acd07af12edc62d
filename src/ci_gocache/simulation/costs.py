"""Projected CI time: a costs file's seconds per event kind for each strategy, times the window's event
counts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ci_gocache.simulation.runs import EVENT_KINDS
from ci_gocache.simulation.strategies import STRATEGY_NAMES


class CostsError(Exception):
    """A costs file that cannot be used."""


COSTS_FORMAT = "ci-gocache-costs/1"


def load_costs(path: Path) -> dict[str, Any]:
    """A costs file: {"format", "source", "strategies": {name: {event kind: seconds}}}, checked."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise CostsError(f"{path}:1:1: cannot read the costs file ({error.strerror}); give a JSON file") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise CostsError(f"{path}:{error.lineno}:{error.colno}: not JSON ({error.msg}); see docs/simulate.md for the format") from None
    if not isinstance(document, dict) or document.get("format") != COSTS_FORMAT:
        raise CostsError(f'{path}:1:1: not a costs file; it needs "format": "{COSTS_FORMAT}" (see docs/simulate.md)')
    strategies = document.get("strategies")
    if not isinstance(strategies, dict) or not strategies:
        raise CostsError(f'{path}:1:1: "strategies" must map strategy names to per-event seconds')
    for name, costs in strategies.items():
        if name not in STRATEGY_NAMES:
            raise CostsError(f"{path}:1:1: unknown strategy {name!r}; use one of {', '.join(STRATEGY_NAMES)}")
        if not isinstance(costs, dict):
            raise CostsError(f"{path}:1:1: strategy {name!r} must map event kinds to seconds")
        for kind in EVENT_KINDS:
            value = costs.get(kind)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise CostsError(f"{path}:1:1: strategy {name!r} needs {kind!r} as seconds (a number >= 0); "
                                 f"give all of {', '.join(EVENT_KINDS)}")
    return document


def project_costs(result: dict[str, Any], costs: dict[str, Any]) -> dict[str, Any]:
    """CI minutes per strategy: the window's event counts times each strategy's seconds per event."""
    events = result["events"]
    minutes: dict[str, float] = {}
    for name, per_event in costs["strategies"].items():
        seconds = sum(events[kind] * float(per_event[kind]) for kind in EVENT_KINDS)
        minutes[name] = round(seconds / 60, 1)
    baseline_name = next((name for name in ("setup-go", "setup-go-go.sum") if minutes.get(name)), None)
    baseline = minutes[baseline_name] if baseline_name else 0.0
    return {
        "source": costs.get("source", ""),
        "minutes": minutes,
        "baseline": baseline_name,
        "ratio_to_baseline": {name: round(value / baseline, 3) for name, value in minutes.items()} if baseline else {},
    }
