"""What a GitLab Go job gets: its cache directories, the caches, the variables, and the rules that
set the cache policy; and why a job's scripts or its own rules keep it from getting them."""

from __future__ import annotations

import re
from typing import Any

from ci_gocache import keys
from ci_gocache.targets.base import PatchOptions
from ci_gocache.targets.gitlab.facts import GitlabFacts, GitlabJob, commands_of, location_problem
from ci_gocache.targets.gitlab.loading import BUILD_CACHE_DIRECTORY, GOPATH_DIRECTORY, MODCACHERW, POLICY_VARIABLE


def cache_directories(job: GitlabJob) -> tuple[str, str] | str:
    """The module and build cache paths (relative to the project), or why there are none.

    Where the job puts GOMODCACHE or GOCACHE itself, there; else under GOPATH when the job puts
    that inside the project directory; else ci-gocache's own directories."""
    module_dir = f"{GOPATH_DIRECTORY}/pkg/mod"
    build_dir = BUILD_CACHE_DIRECTORY
    modcache = job.go_locations.get("GOMODCACHE")
    gopath = job.go_locations.get("GOPATH")
    gocache = job.go_locations.get("GOCACHE")
    if modcache is not None:
        if modcache.directory is None:
            return location_problem(modcache)
        module_dir = modcache.directory
    elif gopath is not None and gopath.directory is not None:
        module_dir = f"{gopath.directory}/pkg/mod"
    if gocache is not None:
        if gocache.directory is None:
            return location_problem(gocache)
        build_dir = gocache.directory
    return module_dir, build_dir


def policy_rules(save_on: str, default_only: bool = True) -> list[dict[str, Any]] | None:
    """Rules that set the cache policy: save only where --save-on says, never in tag pipelines.

    They keep the job in exactly the pipelines it ran in: with `default_only` (no workflow:rules,
    where GitLab gives the job `only: [branches, tags]`) they keep it out of merge request
    pipelines; with workflow:rules every pipeline the workflow creates runs it, as before."""
    save_if = {
        "default-branch": "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH",
        "push": '$CI_PIPELINE_SOURCE == "push" && $CI_COMMIT_BRANCH',
        "always": "$CI_COMMIT_BRANCH",
    }.get(save_on)
    if save_if is None:
        return None
    never_in_merge_requests = [{"if": '$CI_PIPELINE_SOURCE == "merge_request_event"', "when": "never"}]
    return [
        *(never_in_merge_requests if default_only else []),
        {"if": "$CI_COMMIT_TAG", "variables": {POLICY_VARIABLE: "pull"}},
        {"if": save_if, "variables": {POLICY_VARIABLE: "pull-push"}},
        {"variables": {POLICY_VARIABLE: "pull"}},
    ]


def our_caches(job: GitlabJob, options: PatchOptions, directories: tuple[str, str]) -> list[dict[str, Any]]:
    module_dir, build_dir = directories
    policy = "pull" if options.save_on == "never" else f"${POLICY_VARIABLE}"
    prefix = options.key_prefix
    per_job = "$CI_JOB_NAME_SLUG"
    if job.sum_files_known:
        module_key: dict[str, Any] = {"key": {"prefix": f"{prefix}-{keys.MODULE_KIND}", "files": job.sum_files}}
    else:
        # More go.sum files than key:files can hash: a cache per job and branch that the
        # default branch saves again on every pipeline, so it follows every go.sum.
        module_key = {
            "key": f"{prefix}-{keys.MODULE_KIND}-{per_job}-$CI_COMMIT_REF_SLUG",
            "fallback_keys": [f"{prefix}-{keys.MODULE_KIND}-{per_job}-$CI_DEFAULT_BRANCH"],
        }
    module = {**module_key, "paths": [f"{module_dir}/"], "policy": policy}
    build = {
        "key": f"{prefix}-{keys.BUILD_KIND}-{per_job}-$CI_COMMIT_REF_SLUG",
        "fallback_keys": [f"{prefix}-{keys.BUILD_KIND}-{per_job}-$CI_DEFAULT_BRANCH"],
        "paths": [f"{build_dir}/"],
        "policy": policy,
    }
    return [module, build]


# `go install`, and `go get`, which installs commands up to Go 1.17: the job keeps its GOPATH so
# the binaries land in its bin directory on PATH (/go/bin in golang images), not in the project.
GO_INSTALL = re.compile(r"(?:^|[\s;&|(`])go\s+(?:-C\s+\S+\s+)?(?:install|get)\b")

# Commands that walk the whole project directory, where the Go caches sit: third-party modules
# are often not gofmt-clean, and copying the directory into GOPATH copies it into itself.
_PROJECT_PATH = r"(?:\.|\./|\.//|\$\{?CI_PROJECT_DIR\}?/?|\$\{?PWD\}?/?|\"\$\{?CI_PROJECT_DIR\}?\"|\$\(pwd\))"
_WALKS = "walks every file under the project directory, Go's caches included, where third-party modules are often not gofmt-clean"
_SKIP_CACHES = "make it skip them (such as `gofmt -l $(git ls-files '*.go')`, or `find . -path ./.go -prune -o ...`)"
_TREE_WALKERS = (
    (re.compile(rf"(?:^|[\s;&|(`])(gofmt|goimports|gofumpt|goimports-reviser|gci)\b[^;&|\n]*?\s{_PROJECT_PATH}(?=[\s;&|)`\"]|$)", re.MULTILINE), _WALKS, _SKIP_CACHES),
    (re.compile(rf"(?:^|[\s;&|(`])(find)(?:\s+-[HLP])*\s+{_PROJECT_PATH}(?=[\s;&|)`\"]|$)", re.MULTILINE), _WALKS, _SKIP_CACHES),
    (re.compile(r"(?:^|[\s;&|(`])(find)\s+-(?:name|iname|type|path)\b", re.MULTILINE), _WALKS, _SKIP_CACHES),
    (re.compile(rf"(?:^|[\s;&|(`])(cp|rsync)\s+(?:-\w+\s+)*{_PROJECT_PATH}(?=[\s;&|)`\"]|$)", re.MULTILINE),
     "copies the whole project directory, Go's caches included, and into itself when the target is under GOPATH=$CI_PROJECT_DIR/.go",
     "copy only the sources (such as `git ls-files | cpio -pd <target>`), or set GOPATH to a directory under $CI_PROJECT_DIR yourself"),
    (re.compile(r"(?:^|[\s;&|(`])(cp|rsync|ln|mv|mkdir)\b[^;&|\n]*\$\{?GOPATH\}?/src\b", re.MULTILINE),
     "builds in GOPATH mode under $GOPATH/src, which ci-gocache's GOPATH would move into the project directory",
     "move the job to Go modules, or set GOPATH to a directory under $CI_PROJECT_DIR yourself"),
)
GO_IMAGE_VERSION = re.compile(r"(?:^|/)golang:1\.(\d+)(?:[.\-]|$)")


def script_hazard(job: GitlabJob) -> str:
    """Why Go's directories inside $CI_PROJECT_DIR would break the job's scripts, and what to do; "" if they would not."""
    image = (job.image or "").lower()
    version = GO_IMAGE_VERSION.search(image)
    if version and int(version.group(1)) < 14:
        return (
            f"its image {job.image} has Go 1.{version.group(1)}, older than 1.14, which lacks {MODCACHERW} (every go "
            "command would abort with it) and GOMODCACHE; move the job to golang:1.14 or newer, then run again"
        )
    script = commands_of("\n".join(job.scripts))
    for pattern, what, fix in _TREE_WALKERS:
        found = pattern.search(script)
        if found is None:
            continue
        if found.group(1) == "find" and re.search(r"\.go(?:-build)?\b['\"]?\s*-prune|-path\s+['\"]?\./\.go", script):
            continue
        command = found.group(0).strip(" \t\n;&|(`")
        return (
            f"its script runs `{command}`, which {what} ({GOPATH_DIRECTORY}/ and {BUILD_CACHE_DIRECTORY}/ once "
            f"cached there); {fix}, then run again"
        )
    return ""


def our_variables(job: GitlabJob, options: PatchOptions, directories: tuple[str, str]) -> dict[str, str]:
    """The variables to add to the job (those it does not already have right)."""
    module_dir, build_dir = directories
    # What the job sets itself (in variables, rules or its scripts) stays: a variable added here
    # would only be replaced by the script's export, or would move the job's own directories.
    own = set(job.go_locations)
    wanted: dict[str, str] = {}
    # A job that runs `go install` keeps its GOPATH, so the tools land where PATH finds them
    # (/go/bin in golang images); GOMODCACHE alone moves the module cache into the project.
    installs_tools = any(GO_INSTALL.search(line) for line in job.scripts)
    if not own & {"GOPATH", "GOMODCACHE"} and not installs_tools:
        wanted["GOPATH"] = f"$CI_PROJECT_DIR/{GOPATH_DIRECTORY}"
    if "GOMODCACHE" not in own:
        wanted["GOMODCACHE"] = f"$CI_PROJECT_DIR/{module_dir}"
    if "GOCACHE" not in own:
        wanted["GOCACHE"] = f"$CI_PROJECT_DIR/{build_dir}"
    flags = job.variables.get("GOFLAGS")
    if flags is None:
        wanted["GOFLAGS"] = MODCACHERW
    elif MODCACHERW not in flags.split():
        wanted["GOFLAGS"] = f"{flags} {MODCACHERW}".strip()
    if options.save_on != "never" and POLICY_VARIABLE not in job.variables:
        wanted[POLICY_VARIABLE] = "pull"
    return wanted


def _save_condition(options: PatchOptions) -> str:
    rules = policy_rules(options.save_on) or []
    return next((rule["if"] for rule in rules if rule.get("variables", {}).get(POLICY_VARIABLE) == "pull-push"), "")


def restore_only_reason(job: GitlabJob, facts: GitlabFacts, options: PatchOptions) -> str:
    """Why ci-gocache adds no rules: to the job, so that its caches only restore, and exactly what
    the user can add to save them; "" when it adds its rules."""
    condition = _save_condition(options)
    save_rule = f"`- if: {condition}` with `variables: {{{POLICY_VARIABLE}: pull-push}}`"
    nothing_saves = "nothing in this job saves its Go caches"
    if job.has_rules:
        return (
            f"caches are restore-only because the job has its own rules:; {nothing_saves}. To save them, give "
            f"its rule for the default branch `variables: {{{POLICY_VARIABLE}: pull-push}}`, or add {save_rule} "
            "before its other rules if that rule would match the same pipelines"
        )
    if job.has_only_except:
        return (
            f"caches are restore-only because the job uses only:/except:, and GitLab rejects rules: next to them; "
            f"{nothing_saves}. To save them, replace only:/except: with rules: that keep the same pipelines and "
            f"start with {save_rule}"
        )
    if job.when == "delayed":
        return (
            "caches are restore-only because the job is `when: delayed` (start_in:), and GitLab rejects rules: "
            f"next to it; {nothing_saves}. To save them, move `when: delayed` and start_in: into rules: that "
            f"start with {save_rule}"
        )
    if facts.workflow == "unknown":
        return (
            f"caches are restore-only because its pipeline uses {facts.workflow_from}, which ci-gocache cannot "
            "read and which may set workflow:rules, so it cannot tell whether the job runs in merge request "
            f"pipelines; {nothing_saves}. To save them, add rules: that start with {save_rule} and end with "
            "`- when: on_success`, and, if that pipeline has no workflow:rules, first "
            '`- if: $CI_PIPELINE_SOURCE == "merge_request_event"` with `when: never`'
        )
    return ""
