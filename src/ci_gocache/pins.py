"""The one table of actions this project adds to workflows, pinned to full commit SHAs.

Every `uses:` line we write comes from `pinned_uses`, so the SHA and the `# vX.Y.Z`
comment can never disagree. tests/test_pins.py checks that the table is well formed.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PinnedAction:
    repository: str
    version: str
    commit: str


PINNED_ACTIONS: dict[str, PinnedAction] = {
    "actions/checkout": PinnedAction(
        "actions/checkout", "v5.0.0", "08c6903cd8c0fde910a37f88322edcfb5dd907a8"
    ),
    "actions/setup-go": PinnedAction(
        "actions/setup-go", "v6.0.0", "44694675825211faa026b3c33043df3e48a5fa00"
    ),
    "actions/cache": PinnedAction(
        "actions/cache", "v6.1.0", "55cc8345863c7cc4c66a329aec7e433d2d1c52a9"
    ),
    "docker/build-push-action": PinnedAction(
        "docker/build-push-action", "v7.3.0", "53b7df96c91f9c12dcc8a07bcb9ccacbed38856a"
    ),
    "docker/login-action": PinnedAction(
        "docker/login-action", "v3.4.0", "74a5d142397b4f367a81961eba4e8cd7edddf772"
    ),
    "docker/setup-buildx-action": PinnedAction(
        "docker/setup-buildx-action", "v4.3.0", "37fe631027851001ddb9b187196cc803df7f5f0e"
    ),
    "golangci/golangci-lint-action": PinnedAction(
        "golangci/golangci-lint-action", "v8.0.0", "4afd733a84b1f43292c63897423277bb7f4313a9"
    ),
    "reproducible-containers/buildkit-cache-dance": PinnedAction(
        "reproducible-containers/buildkit-cache-dance",
        "v3.2.0",
        "653a570f730e3b9460adc576db523788ba59a0d7",
    ),
}


def pinned_uses(action_path: str) -> str:
    """`owner/repo[/subpath]@<sha> # vX.Y.Z` for an action in the table.

    `action_path` may name a sub-action such as `actions/cache/restore`.
    """
    owner, repo, *rest = action_path.split("/")
    pin = PINNED_ACTIONS[f"{owner}/{repo}"]
    return f"{action_path}@{pin.commit} # {pin.version}"
