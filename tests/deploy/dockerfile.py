"""Just enough of a Dockerfile parser for the tests to follow deploy/Dockerfile as written."""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
_VARIABLE = re.compile(r"\$(?:\{(\w+)\}|(\w+))")


@dataclass(frozen=True)
class Instruction:
    keyword: str  # upper case: FROM, RUN, ENV, ...
    arguments: str  # the rest of the logical line, continuations joined

    def exec_form(self) -> list[str]:
        """The JSON array of CMD/ENTRYPOINT/HEALTHCHECK CMD; shell form is refused on purpose."""
        text = self.arguments
        if self.keyword == "HEALTHCHECK":
            text = text[text.index("CMD ") + 4 :]
        words = json.loads(text)
        assert isinstance(words, list), f"{self.keyword} {self.arguments!r} is not in exec form"
        return [str(word) for word in words]


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def last(self, keyword: str) -> Instruction | None:
        found = self.all(keyword)
        return found[-1] if found else None

    def env(self) -> dict[str, str]:
        """The stage's ENV values in order, `$VAR` expanded from earlier ones (others left as is)."""
        values: dict[str, str] = {}
        for instruction in self.all("ENV"):
            for key, raw in _env_pairs(instruction.arguments):
                values[key] = _VARIABLE.sub(lambda m: values.get(m[1] or m[2], m[0]), raw)
        return values

    def command(self) -> list[str]:
        """What `docker run IMAGE` executes: ENTRYPOINT followed by CMD (both exec form)."""
        parts: list[str] = []
        for keyword in ("ENTRYPOINT", "CMD"):
            if instruction := self.last(keyword):
                parts += instruction.exec_form()
        return parts


def logical_lines(text: str) -> list[str]:
    """Instructions one per line: comments dropped, backslash continuations joined."""
    lines: list[str] = []
    pending = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue  # also inside a continuation, as Docker does
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        lines.append(pending + stripped)
        pending = ""
    if pending:
        lines.append(pending.strip())
    return lines


def parse(path: Path = DOCKERFILE) -> list[Stage]:
    """The build stages in file order; global ARG defaults are substituted into FROM."""
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in logical_lines(path.read_text()):
        keyword, _, arguments = line.partition(" ")
        keyword, arguments = keyword.upper(), arguments.strip()
        if keyword == "ARG" and not stages:
            name, _, default = arguments.partition("=")
            global_args[name] = default
        elif keyword == "FROM":
            words = [w for w in arguments.split() if not w.startswith("--")]
            base = _VARIABLE.sub(lambda m: global_args.get(m[1] or m[2], m[0]), words[0])
            stage_name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            stages.append(Stage(base=base, name=stage_name))
        else:
            stages[-1].instructions.append(Instruction(keyword, arguments))
    return stages


def stage_named(stages: list[Stage], name: str) -> Stage:
    return next(stage for stage in stages if stage.name == name)


def _env_pairs(arguments: str) -> list[tuple[str, str]]:
    words = shlex.split(arguments)
    if "=" not in words[0]:  # legacy form: ENV KEY value with spaces
        return [(words[0], " ".join(words[1:]))]
    return [(key, value) for key, _, value in (word.partition("=") for word in words)]
