"""Run a composite action's own steps locally, the way the GitHub runner does.

The steps come from the action file through the YAML parser. `run:` steps execute in
`bash --noprofile --norc -eo pipefail` (GitHub's `shell: bash`) with a GitHub-like
environment: GITHUB_OUTPUT, GITHUB_ENV and GITHUB_STEP_SUMMARY files per step, RUNNER_*,
GITHUB_* and GITHUB_ACTION_PATH. `uses: actions/cache/restore|save` steps go to the
tarball stand-in in cachestore.py. `${{ }}` expressions are evaluated by a small evaluator
that knows the contexts and operators the action files use; anything else is an error, so a
test can never pass on an expression it did not understand.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from support.cachestore import CacheStore

REPO = Path(__file__).resolve().parents[2]
EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)


# ---------------------------------------------------------------- expressions


class ExpressionError(Exception):
    pass


_TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:[^']|'')*')|(?P<op>==|!=|&&|\|\||!|\(|\)|,)|(?P<number>\d+(?:\.\d+)?)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_-]*(?:\.[A-Za-z_*][A-Za-z0-9_-]*)*))"
)


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens = []
    position = 0
    text = text.strip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match or match.end() == position:
            raise ExpressionError(f"cannot read expression {text!r} at {position}")
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        position = match.end()
    return tokens


class _Parser:
    def __init__(self, text: str, contexts: dict[str, Any], status: dict[str, bool]) -> None:
        self.tokens = _tokens(text)
        self.index = 0
        self.contexts = contexts
        self.status = status
        self.text = text

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def parse(self) -> Any:
        value = self.or_expression()
        if self.peek() is not None:
            raise ExpressionError(f"unexpected {self.peek()} in {self.text!r}")
        return value

    def or_expression(self) -> Any:
        value = self.and_expression()
        while self.peek() == ("op", "||"):
            self.take()
            right = self.and_expression()
            value = value if _truthy(value) else right
        return value

    def and_expression(self) -> Any:
        value = self.comparison()
        while self.peek() == ("op", "&&"):
            self.take()
            right = self.comparison()
            value = right if _truthy(value) else value
        return value

    def comparison(self) -> Any:
        value = self.unary()
        while self.peek() in (("op", "=="), ("op", "!=")):
            operator = self.take()[1]
            right = self.unary()
            equal = _loose(value) == _loose(right)
            value = equal if operator == "==" else not equal
        return value

    def unary(self) -> Any:
        if self.peek() == ("op", "!"):
            self.take()
            return not _truthy(self.unary())
        return self.primary()

    def primary(self) -> Any:
        kind, text = self.take()
        if kind == "string":
            return text[1:-1].replace("''", "'")
        if kind == "number":
            return float(text)
        if (kind, text) == ("op", "("):
            value = self.or_expression()
            if self.take() != ("op", ")"):
                raise ExpressionError(f"missing ) in {self.text!r}")
            return value
        if kind == "name":
            if self.peek() == ("op", "("):
                return self.call(text)
            if text in ("true", "false"):
                return text == "true"
            if text == "null":
                return None
            return self.lookup(text)
        raise ExpressionError(f"unexpected {text!r} in {self.text!r}")

    def call(self, name: str) -> Any:
        self.take()
        arguments = []
        while self.peek() != ("op", ")"):
            arguments.append(self.or_expression())
            if self.peek() == ("op", ","):
                self.take()
        self.take()
        if name in ("success", "failure", "always", "cancelled") and not arguments:
            return {
                "success": not self.status["failed"],
                "failure": self.status["failed"],
                "always": True,
                "cancelled": False,
            }[name]
        if name == "startsWith" and len(arguments) == 2:
            return _text(arguments[0]).lower().startswith(_text(arguments[1]).lower())
        if name == "format" and arguments:
            return re.sub(r"\{(\d+)\}", lambda match: _text(arguments[int(match.group(1)) + 1]), _text(arguments[0]))
        if name == "toJSON" and len(arguments) == 1:
            # The runner writes JSON with two-space indentation and `": "` between key and value.
            return json.dumps(arguments[0], indent=2)
        raise ExpressionError(f"function {name}() is not supported by this runner")

    def lookup(self, dotted: str) -> Any:
        head, *rest = dotted.split(".")
        if head not in self.contexts:
            raise ExpressionError(f"unknown context {head!r} in {self.text!r}")
        value: Any = self.contexts[head]
        for part in rest:
            value = value.get(part) if isinstance(value, dict) else None
        return value


def _truthy(value: Any) -> bool:
    return value not in (None, False, 0, 0.0, "")


def _loose(value: Any) -> Any:
    if isinstance(value, str):
        return value.lower()
    if isinstance(value, bool):
        return str(value).lower()
    return value


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def evaluate(text: str, contexts: dict[str, Any], status: dict[str, bool] | None = None) -> Any:
    return _Parser(text, contexts, status or {"failed": False}).parse()


def interpolate(value: str, contexts: dict[str, Any]) -> str:
    return EXPRESSION.sub(lambda match: _text(evaluate(match.group(1), contexts)), value)


def condition(raw: Any, contexts: dict[str, Any], status: dict[str, bool]) -> bool:
    if raw is None:
        return not status["failed"]
    text = str(raw).strip()
    match = EXPRESSION.fullmatch(text)
    if match:
        text = match.group(1)
    uses_status = re.search(r"\b(success|failure|always|cancelled)\(", text)
    result = _truthy(evaluate(text, contexts, status))
    return result if uses_status else (result and not status["failed"])


# ---------------------------------------------------------------- file commands


def read_file_command(path: Path) -> dict[str, str]:
    """name=value lines and name<<DELIMITER heredocs, as the runner reads them."""
    values: dict[str, str] = {}
    if not path.exists():
        return values
    lines = path.read_text(encoding="utf-8").split("\n")
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if not line:
            continue
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            body = []
            while lines[index] != delimiter:
                body.append(lines[index])
                index += 1
            index += 1
            values[name] = "\n".join(body)
        else:
            name, value = line.split("=", 1)
            values[name] = value
    return values


# ---------------------------------------------------------------- a job


@dataclass
class StepResult:
    step_id: str | None
    name: str
    outcome: str  # success | failure | skipped
    stdout: str = ""
    stderr: str = ""
    outputs: dict[str, str] = field(default_factory=dict)


@dataclass
class ActionResult:
    steps: list[StepResult]
    outputs: dict[str, str]

    @property
    def log(self) -> str:
        return "".join(step.stdout + step.stderr for step in self.steps)

    def step(self, step_id: str) -> StepResult:
        return next(step for step in self.steps if step.step_id == step_id)


class Job:
    """One job on a fresh runner: the environment that persists between its steps."""

    def __init__(
        self,
        workspace: Path,
        runner_temp: Path,
        store: CacheStore,
        *,
        event_name: str = "push",
        ref: str = "refs/heads/main",
        default_branch: str = "main",
        run_id: str = "1001",
        run_attempt: str = "1",
        job_id: str = "build",
        runner_os: str = "Linux",
        runner_arch: str = "X64",
        env: dict[str, str] | None = None,
        matrix: dict[str, Any] | None = None,
    ) -> None:
        self.workspace = workspace
        self.matrix = matrix  # the `matrix` context: None for a job without a matrix
        self.runner_temp = runner_temp
        self.store = store
        runner_temp.mkdir(parents=True, exist_ok=True)
        event_path = runner_temp / "event.json"
        event_path.write_text(json.dumps({"repository": {"default_branch": default_branch}}))
        self.env: dict[str, str] = {
            "PATH": os.environ["PATH"],
            "HOME": os.environ.get("HOME", "/root"),
            "LANG": "C.UTF-8",
            "CI": "true",
            "GITHUB_ACTIONS": "true",
            "GITHUB_WORKSPACE": str(workspace),
            "GITHUB_EVENT_NAME": event_name,
            "GITHUB_EVENT_PATH": str(event_path),
            "GITHUB_REF": ref,
            "GITHUB_RUN_ID": run_id,
            "GITHUB_RUN_ATTEMPT": run_attempt,
            "GITHUB_JOB": job_id,
            "GITHUB_WORKFLOW": "CI",
            "RUNNER_OS": runner_os,
            "RUNNER_ARCH": runner_arch,
            "RUNNER_TEMP": str(runner_temp),
        }
        self.env.update(env or {})
        self.summary = runner_temp / "step_summary.md"
        self.status = "success"  # job.status: set to "failure" when a step of the job failed
        self.counter = 0
        self.github = {
            "event_name": event_name,
            "ref": ref,
            "run_id": run_id,
            "run_attempt": run_attempt,
            "job": job_id,
            "workspace": str(workspace),
            "event": {"repository": {"default_branch": default_branch}},
        }

    def _files(self) -> tuple[Path, Path]:
        self.counter += 1
        directory = self.runner_temp / "_runner_file_commands" / f"step{self.counter}"
        directory.mkdir(parents=True, exist_ok=True)
        return directory / "output", directory / "env"

    def run_shell(self, script: str, extra_env: dict[str, str] | None = None, cwd: Path | None = None) -> StepResult:
        """A `run:` step with `shell: bash`; GITHUB_ENV written by it applies to later steps."""
        output_file, env_file = self._files()
        script_file = output_file.with_name("script.sh")
        script_file.write_text(script)
        env = {**self.env, **(extra_env or {})}
        env.update({"GITHUB_OUTPUT": str(output_file), "GITHUB_ENV": str(env_file), "GITHUB_STEP_SUMMARY": str(self.summary)})
        completed = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script_file)],
            cwd=cwd or self.workspace,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        self.env.update(read_file_command(env_file))
        return StepResult(
            None,
            script.splitlines()[0] if script else "",
            "success" if completed.returncode == 0 else "failure",
            completed.stdout,
            completed.stderr,
            read_file_command(output_file),
        )

    def use_action(
        self, action_file: Path, inputs: dict[str, str] | None = None, stop_after: str | None = None
    ) -> ActionResult:
        """`uses:` a composite action: its steps in order (up to step `stop_after`), then its outputs."""
        yaml = YAML(typ="safe")
        definition = yaml.load(action_file.read_text())
        action_path = action_file.parent
        declared = definition.get("inputs") or {}
        unknown = set(inputs or {}) - set(declared)
        if unknown:
            raise ExpressionError(f"inputs {sorted(unknown)} are not declared in {action_file}")
        input_values = {name: _text(spec.get("default", "")) for name, spec in declared.items()}
        input_values.update(inputs or {})
        steps_context: dict[str, Any] = {}
        results: list[StepResult] = []
        status = {"failed": False}
        for step in definition["runs"]["steps"]:
            contexts = {
                "inputs": input_values,
                "steps": steps_context,
                "github": {**self.github, "action_path": str(action_path)},
                "runner": {"os": self.env["RUNNER_OS"], "arch": self.env["RUNNER_ARCH"], "temp": str(self.runner_temp)},
                "env": self.env,
                "job": {"status": "failure" if status["failed"] else self.status},
                "matrix": self.matrix,
            }
            step_id = step.get("id")
            name = step.get("name", "")
            if not condition(step.get("if"), contexts, status):
                result = StepResult(step_id, name, "skipped")
            elif "uses" in step:
                result = self._cache_step(step, contexts)
            else:
                if step.get("shell") != "bash":
                    raise ExpressionError(f"step {name!r}: composite run steps here must use shell: bash")
                step_env = {key: interpolate(_text(value), contexts) for key, value in (step.get("env") or {}).items()}
                step_env["GITHUB_ACTION_PATH"] = str(action_path)
                if EXPRESSION.search(step["run"]):
                    raise ExpressionError(f"step {name!r}: keep ${{{{ }}}} out of run scripts; pass values through env")
                result = self.run_shell(step["run"], step_env)
                result.step_id, result.name = step_id, name
            if result.outcome == "failure":
                status["failed"] = True
            results.append(result)
            if step_id:
                steps_context[step_id] = {"outputs": result.outputs, "outcome": result.outcome, "conclusion": result.outcome}
            if stop_after is not None and step_id == stop_after:
                break
        contexts = {"steps": steps_context, "inputs": input_values, "github": self.github, "env": self.env}
        outputs = {
            name: interpolate(_text(spec.get("value", "")), contexts) for name, spec in (definition.get("outputs") or {}).items()
        }
        return ActionResult(results, outputs)

    def _cache_step(self, step: dict[str, Any], contexts: dict[str, Any]) -> StepResult:
        uses = step["uses"]
        with_inputs = {key: interpolate(_text(value), contexts) for key, value in (step.get("with") or {}).items()}
        if uses.startswith("actions/cache/restore@"):
            outputs = self.store.restore(with_inputs)
        elif uses.startswith("actions/cache/save@"):
            outputs = self.store.save(with_inputs)
        else:
            raise ExpressionError(f"this runner stands in only for actions/cache/restore and save, not {uses}")
        return StepResult(step.get("id"), step.get("name", ""), "success", self.store.log[-1] + "\n", "", outputs)


def main_action() -> Path:
    return REPO / "action.yml"


def save_action() -> Path:
    return REPO / "save" / "action.yml"
