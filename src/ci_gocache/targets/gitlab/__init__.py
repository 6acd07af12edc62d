"""GitLab CI files: the target interface (see targets/base.py)."""

from ci_gocache.targets.gitlab.pipeline import NAME, claims, describe, inspect, plan, verify

__all__ = ["NAME", "claims", "describe", "inspect", "plan", "verify"]
