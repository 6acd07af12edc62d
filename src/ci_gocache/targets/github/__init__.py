"""GitHub Actions workflows: the target interface (see targets/base.py)."""

from ci_gocache.targets.github.workflow import NAME, claims, describe, inspect, plan, verify

__all__ = ["NAME", "claims", "describe", "inspect", "plan", "verify"]
