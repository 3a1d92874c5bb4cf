"""The README's manual container steps, read from README.md itself, so the test runs what users read."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from tests.containers.podman import ROOT

README = ROOT / "README.md"
BLOCK_INTRO = "The same by hand"
WAIT_COMMENT = re.compile(r"#\s*once `(?P<command>[^`]+)` answers")


@dataclass(frozen=True)
class Step:
    """One README command as podman argv (docker -> podman), or a command to poll until it succeeds."""

    argv: list[str]
    wait: bool = False

    @property
    def verb(self) -> str:
        return self.argv[1]


def podman_argv(line: str) -> list[str]:
    words = shlex.split(line)
    assert words[0] == "docker", f"a README step that is not a docker command: {line}"
    return ["podman", *words[1:]]


def manual_steps() -> list[Step]:
    """The shell block after "The same by hand" in README.md, one Step per command."""
    text = README.read_text()
    assert BLOCK_INTRO in text, f"README.md no longer has the manual steps ({BLOCK_INTRO!r})"
    block = text[text.index(BLOCK_INTRO) :].split("```sh\n", 1)[1].split("```", 1)[0]
    steps: list[Step] = []
    pending = ""
    for raw in block.splitlines():
        line = raw.strip()
        waiting = WAIT_COMMENT.search(line)
        if waiting:
            steps.append(Step(podman_argv(waiting["command"]), wait=True))
        elif line and not line.startswith("#"):
            pending += line.removesuffix("\\")
            if not line.endswith("\\"):
                steps.append(Step(podman_argv(pending)))
                pending = ""
    return steps
