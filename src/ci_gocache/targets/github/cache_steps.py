"""The text of the cache steps a GitHub job gets: the locate step, restore and save steps of
actions/cache (--style steps) or the ci-gocache action's two steps (--style action)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ci_gocache import keys
from ci_gocache.pins import pinned_uses
from ci_gocache.targets.base import PatchOptions
from ci_gocache.targets.github.facts import JobFacts
from ci_gocache.targets.github.steps import save_condition


DIRS_STEP_ID = "go-cache-dirs"
MODULE_STEP_ID = "go-mod-cache"
BUILD_STEP_ID = "go-build-cache"
COMPLETE_MODULES_STEP_ID = "go-mod-complete"
ACTION_STEP_ID = "go-cache"
SAVE_ACTION_STEP_ID = "go-cache-save"
# Inputs of action.yml that --style action writes; tests/test_action_patch.py checks them against it.
ACTION_SAVE_POLICIES = {"default-branch": "auto", "push": "push", "always": "always", "never": "never"}
FORMAT_ARGUMENT = re.compile(r"^format\('((?:[^']|'')*)', matrix\.([A-Za-z0-9_-]+)\)$")


@dataclass
class StepLayout:
    dash_column: int
    key_column: int
    unit: int
    newline: str

    def step(self, entries: list[tuple[str, Any]]) -> list[str]:
        """Lines of one step; values are strings, or lists of strings for block scalars,
        or dicts for nested mappings."""
        lines: list[str] = []
        first = True
        for key, value in entries:
            prefix = " " * self.dash_column + "-" + " " * (self.key_column - self.dash_column - 1) if first else " " * self.key_column
            first = False
            lines.extend(self._entry(prefix, key, value, self.key_column))
        return lines

    def _entry(self, prefix: str, key: str, value: Any, column: int) -> list[str]:
        if isinstance(value, dict):
            lines = [f"{prefix}{key}:"]
            for child_key, child_value in value.items():
                lines.extend(self._entry(" " * (column + self.unit), child_key, child_value, column + self.unit))
            return lines
        if isinstance(value, list):
            lines = [f"{prefix}{key}: |"]
            lines.extend(" " * (column + self.unit) + item if item else "" for item in value)
            return lines
        return [f"{prefix}{key}: {value}"]


def _expression_parts(job: JobFacts, options: PatchOptions) -> keys.KeyParts:
    sums = "${{ hashFiles(" + ", ".join(job.hash_arguments) + ") }}"
    # Matrix values go in as the locate step's digest of toJSON(matrix): a value with a comma
    # or a long one would make the key invalid, and legs that differ only in values the key
    # did not name would share a build cache.
    scope = f"${{{{ steps.{DIRS_STEP_ID}.outputs.matrix }}}}" if job.matrix else ""
    return keys.KeyParts(
        prefix=options.key_prefix,
        os_name="${{ runner.os }}",
        arch="${{ runner.arch }}",
        sums_digest=sums,
        go_version=f"${{{{ steps.{DIRS_STEP_ID}.outputs.go-version }}}}",
        job="${{ github.job }}",
        scope=scope,
        run="${{ github.run_id }}-${{ github.run_attempt }}",
    )


def _work_drive_script() -> list[str]:
    """Windows legs: GOMODCACHE and GOCACHE on the drive of RUNNER_TEMP, as the action does
    (action/runtime.py, faster_drive_dirs). Hosted Windows runners keep Go's caches on C:, which
    extracts a restore many times slower than the work drive D:. A variable the workflow sets, or a
    cache already on that drive, stays; later steps get the new place through GITHUB_ENV."""
    upper = "tr '[:lower:]' '[:upper:]'"
    lines = [
        'if [ "${RUNNER_OS:-}" = Windows ] && [ -n "${RUNNER_TEMP:-}" ]; then',
        f"  drive=$(printf '%.2s' \"$RUNNER_TEMP\" | {upper})",
    ]
    for name, leaf in (("GOMODCACHE", "go-mod"), ("GOCACHE", "go-build")):
        lines += [
            f'  if [ -z "${{{name}:-}}" ] && [ "$(go env {name} | cut -c1-2 | {upper})" != "$drive" ]; then',
            f'    export {name}="$RUNNER_TEMP\\\\ci-gocache\\\\{leaf}"',
            f'    echo "{name}=${name}" >> "$GITHUB_ENV"',
            "  fi",
        ]
    return lines + ["fi"]


def _locate_script(job: JobFacts, work_drive: bool) -> list[str]:
    """The locate step's shell: cache directories (on Windows legs first moved to the work drive
    when `work_drive`), a key-safe Go version, the matrix digest."""
    lines = _work_drive_script() if work_drive else []
    lines += [
        "{",
        '  echo "module-cache=$(go env GOMODCACHE)"',
        '  echo "build-cache=$(go env GOCACHE)"',
        f'  echo "go-version=$(go env GOVERSION | {keys.VERSION_SAFE_SHELL})"',
    ]
    if job.matrix:
        # keys.text_digest: the first 12 hex digits of sha256 over toJSON(matrix).
        lines += [
            "  if command -v sha256sum >/dev/null 2>&1; then",
            "    digest=$(printf '%s' \"$CI_GOCACHE_MATRIX\" | sha256sum)",
            "  else",
            "    digest=$(printf '%s' \"$CI_GOCACHE_MATRIX\" | shasum -a 256)",
            "  fi",
            "  printf 'matrix=%.12s\\n' \"$digest\"",
        ]
    return lines + ['} >> "$GITHUB_OUTPUT"']


def steps_style_lines(
    job: JobFacts, options: PatchOptions, layout: StepLayout, module_step_id: str, can_save: bool, work_drive: bool
) -> tuple[list[list[str]], list[list[str]]]:
    parts = _expression_parts(job, options)
    dirs = f"steps.{DIRS_STEP_ID}.outputs"
    restore = pinned_uses("actions/cache/restore")
    save = pinned_uses("actions/cache/save")
    locate_entries: list[tuple[str, Any]] = [("name", "Locate Go caches"), ("id", DIRS_STEP_ID), ("shell", job.shell)]
    if job.matrix:
        locate_entries.append(("env", {"CI_GOCACHE_MATRIX": "${{ toJSON(matrix) }}"}))
    locate = layout.step(locate_entries + [("run", _locate_script(job, work_drive))])
    module = layout.step(
        [
            ("name", "Restore Go module cache"),
            ("id", module_step_id),
            ("uses", restore),
            (
                "with",
                {
                    "path": f"${{{{ {dirs}.module-cache }}}}",
                    "key": keys.module_cache_key(parts),
                    "restore-keys": keys.module_restore_keys(parts),
                },
            ),
        ]
    )
    build = layout.step(
        [
            ("name", "Restore Go build cache"),
            ("id", BUILD_STEP_ID),
            ("uses", restore),
            (
                "with",
                {
                    "path": f"${{{{ {dirs}.build-cache }}}}",
                    "key": keys.build_cache_key(parts),
                    "restore-keys": keys.build_restore_keys(parts),
                },
            ),
        ]
    )
    saves: list[list[str]] = []
    condition = save_condition(options.save_on)
    module_save_condition = (
        f"${{{{ !cancelled() && steps.{module_step_id}.outputs.cache-hit != 'true'"
        f" && steps.{module_step_id}.outputs.cache-primary-key != '' && {condition} }}}}"
    )
    if can_save and condition and job.module_roots:
        saves.append(
            layout.step(
                [
                    ("name", "Complete the Go module cache"),
                    ("id", COMPLETE_MODULES_STEP_ID),
                    ("if", module_save_condition),
                    ("shell", job.shell),
                    (
                        "env",
                        {
                            "MODULE_CACHE": f"${{{{ {dirs}.module-cache }}}}",
                            "RESTORED_FROM": f"${{{{ steps.{module_step_id}.outputs.cache-matched-key }}}}",
                        },
                    ),
                    ("run", complete_modules_script(job.module_roots)),
                ]
            )
        )
    if can_save and condition:
        saves.append(
            layout.step(
                [
                    ("name", "Save Go module cache"),
                    ("if", module_save_condition),
                    ("uses", save),
                    (
                        "with",
                        {
                            "path": f"${{{{ {dirs}.module-cache }}}}",
                            "key": f"${{{{ steps.{module_step_id}.outputs.cache-primary-key }}}}",
                        },
                    ),
                ]
            )
        )
        saves.append(
            layout.step(
                [
                    ("name", "Save Go build cache"),
                    (
                        "if",
                        f"${{{{ !cancelled() && steps.{BUILD_STEP_ID}.outputs.cache-primary-key != '' && {condition} }}}}",
                    ),
                    ("uses", save),
                    (
                        "with",
                        {
                            "path": f"${{{{ {dirs}.build-cache }}}}",
                            "key": f"${{{{ steps.{BUILD_STEP_ID}.outputs.cache-primary-key }}}}",
                        },
                    ),
                ]
            )
        )
    return [locate, module, build], saves


def complete_modules_script(module_roots: list[str]) -> list[str]:
    """Shell that makes the module cache hold exactly the keyed go.sum files' modules.

    Whatever part of the modules this job used, the shared module key gets all of them; and
    the older module sets a restore through `...-gomod-` brought are left out: the restored
    cache moves aside and serves as a local GOPROXY (file://), so only what it lacks comes
    from the network. On Windows (no file:// path from bash) it only downloads. It never
    fails the job: on a failed download the restored cache goes back as it was.
    """
    quoted = " ".join(_shell_word(root) for root in module_roots)
    return [
        "older=",
        'if [ -n "$RESTORED_FROM" ] && [ "${RUNNER_OS:-}" != Windows ] && [ -d "$MODULE_CACHE" ]; then',
        '  older="${RUNNER_TEMP:-/tmp}/ci-gocache-restored-modules"',
        '  rm -rf "$older" && mv "$MODULE_CACHE" "$older" || older=',
        "fi",
        'proxy="$(go env GOPROXY)"',
        'if [ -n "$older" ]; then proxy="file://$older/cache/download,$proxy"; fi',
        "status=0",
        f"for module in {quoted}; do",
        '  (cd "$module" && GOPROXY="$proxy" GOFLAGS=-mod=mod go mod download) || status=1',
        "done",
        'if [ -n "$older" ]; then',
        '  chmod -R u+w "$older" "$MODULE_CACHE" 2>/dev/null || true',
        '  if [ "$status" != 0 ]; then rm -rf "$MODULE_CACHE" && mv "$older" "$MODULE_CACHE"; else rm -rf "$older"; fi',
        "fi",
        'if [ "$status" != 0 ]; then echo "::warning title=ci-gocache::go mod download failed; the module cache is saved as the job left it"; fi',
    ]


def _shell_word(text: str) -> str:
    return text if re.fullmatch(r"[A-Za-z0-9_./@+-]+", text) else "'" + text.replace("'", "'\\''") + "'"


def action_style_lines(
    job: JobFacts, options: PatchOptions, layout: StepLayout, can_save: bool, step_id: str = ACTION_STEP_ID
) -> tuple[list[list[str]], list[list[str]]]:
    """`uses:` lines for the ci-gocache action (see action.yml) instead of raw cache steps."""
    reference = f"{options.action_repository}@{options.action_ref}"
    if options.action_version:
        reference += f" # {options.action_version}"
    inputs: dict[str, Any] = {}
    modules = _action_modules(job)
    if modules:
        inputs["modules"] = modules
    inputs["key-prefix"] = options.key_prefix
    inputs["save"] = ACTION_SAVE_POLICIES[options.save_on] if can_save else "never"
    restore = layout.step([("name", "Restore Go caches"), ("id", step_id), ("uses", reference), ("with", inputs)])
    save_reference = f"{options.action_repository}/save@{options.action_ref}"
    if options.action_version:
        save_reference += f" # {options.action_version}"
    # Always there, also where nothing may be saved: the save action trims, writes the job
    # summary and the run record, and applies the save policy itself.
    save = layout.step(
        [("name", "Save Go caches"), ("id", SAVE_ACTION_STEP_ID), ("if", "${{ !cancelled() }}"), ("uses", save_reference)]
    )
    return [restore], [save]


def _action_modules(job: JobFacts) -> list[str]:
    """The action's `modules` input: the hashFiles arguments as paths, matrix values as expressions."""
    modules: list[str] = []
    for argument in job.hash_arguments:
        if len(argument) >= 2 and argument[0] == argument[-1] == "'":
            modules.append(argument[1:-1].replace("''", "'"))
            continue
        match = FORMAT_ARGUMENT.match(argument)
        if match:
            pattern = match.group(1).replace("''", "'").replace("{0}", "\x00").replace("{{", "{").replace("}}", "}")
            modules.append(pattern.replace("\x00", f"${{{{ matrix.{match.group(2)} }}}}"))
    return modules
