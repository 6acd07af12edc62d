"""Step text both the workflow planner and the build-push-action steps write: save conditions, `with:` inputs."""

from __future__ import annotations

from ci_gocache.targets.github.facts import JobFacts, StepFacts
from ci_gocache.textedit import Edit, leading_comment_start


def save_condition(policy: str) -> str | None:
    if policy == "default-branch":
        return "github.event_name == 'push' && github.ref == format('refs/heads/{0}', github.event.repository.default_branch)"
    if policy == "push":
        return "github.event_name == 'push' && startsWith(github.ref, 'refs/heads/')"
    if policy == "always":
        # Every push, schedule and manual run on a branch; never workflow_run, issue_comment, merge_group or
        # pull_request*, which a pull request can start and which write in the base branch's
        # scope. refs/heads/ also keeps out refs/pull/ and tags.
        return (
            "(github.event_name == 'push' || github.event_name == 'schedule' || github.event_name == 'workflow_dispatch')"
            " && startsWith(github.ref, 'refs/heads/')"
        )
    return None


def set_step_inputs(
    text: str, newline: str, job: JobFacts, step: StepFacts, values: dict[str, str]
) -> list[Edit] | None:
    """Edits that make `with:` of a step hold these inputs, changing as little as possible."""
    info = step.with_info
    edits: list[Edit] = []
    if info:
        if info.get("shared") or not info.get("mapping"):
            return None
        missing = {}
        for name, value in values.items():
            if name in info["keys"]:
                start, end, is_scalar = info["keys"][name]
                if not is_scalar:
                    return None
                if text[start:end].strip("'\"").lower() != value:
                    edits.append(Edit(start, end, value, f"set {name}: {value}"))
            else:
                missing[name] = value
        if not missing:
            return edits
        if info["flow"]:
            start = info["value_start"]
            body = ", ".join(f"{name}: {value}" for name, value in missing.items())
            if info.get("empty"):
                close = text.index("}", start)
                edits.append(Edit(start, close + 1, "{" + body + "}", "flow with"))
            else:
                first_key = start + 1
                while text[first_key] in " \t":
                    first_key += 1
                edits.append(Edit(first_key, first_key, body + ", ", "flow with"))
            return edits
        if info.get("empty"):
            return None
        column = info["child_column"]
        insert_at = leading_comment_start(text, info["first_key_line_start"], column)
        lines = "".join(" " * column + f"{name}: {value}" + newline for name, value in missing.items())
        edits.append(Edit(insert_at, insert_at, lines, "add with inputs"))
        return edits
    if not step.uses_line_end or step.flow:
        return None
    column = step.key_column
    lines = " " * column + "with:" + newline
    lines += "".join(" " * (column + job.indent_unit) + f"{name}: {value}" + newline for name, value in values.items())
    position = step.uses_line_end
    prefix = "" if text[position - 1] == "\n" else newline
    if position == len(text) and not text.endswith("\n"):
        lines = lines[: -len(newline)]
    edits.append(Edit(position, position, prefix + lines, "add with"))
    return edits
