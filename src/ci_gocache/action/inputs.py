"""The action's inputs, as action.yml passes them in CI_GOCACHE_* variables."""

from __future__ import annotations

from ci_gocache import keys

TYPE_CHECKING = False  # typing only for annotations: the key phase imports this module
if TYPE_CHECKING:
    from typing import Any

SAVE_POLICIES = ("auto", "push", "always", "never")


class ActionError(Exception):
    """Bad input or a missing prerequisite: reported as a workflow error, exit status 2."""


def read_flag(env: dict[str, str], variable: str, input_name: str, default: bool) -> bool:
    raw = env.get(variable, "").strip().lower()
    if raw == "":
        return default
    if raw in ("true", "false"):
        return raw == "true"
    raise ActionError(f"input {input_name}: expected true or false, got {raw!r}; set it to 'true' or 'false'")


def read_inputs(env: dict[str, str]) -> dict[str, Any]:
    prefix = env.get("CI_GOCACHE_KEY_PREFIX", "").strip() or keys.DEFAULT_PREFIX
    if "," in prefix:
        raise ActionError(f"input key-prefix: {prefix!r} has a comma, which cache keys cannot hold; remove it")
    policy = env.get("CI_GOCACHE_SAVE", "").strip().lower() or "auto"
    if policy not in SAVE_POLICIES:
        raise ActionError(f"input save: expected one of {', '.join(SAVE_POLICIES)}, got {policy!r}")
    extra = [part.strip() for part in env.get("CI_GOCACHE_EXTRA_KEY_PARTS", "").replace(",", "\n").splitlines()]
    return {
        "modules": keys.split_list(env.get("CI_GOCACHE_MODULES", "")),
        "prefix": prefix,
        "build_cache": read_flag(env, "CI_GOCACHE_BUILD_CACHE", "build-cache", True),
        "trim": read_flag(env, "CI_GOCACHE_TRIM", "trim", True),
        "trim_persistent": read_flag(env, "CI_GOCACHE_TRIM_PERSISTENT_CACHE", "trim-persistent-cache", False),
        "save": policy,
        "extra": [part for part in extra if part],
    }
