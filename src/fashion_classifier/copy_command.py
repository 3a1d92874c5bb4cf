"""`fashion-classifier copy FROM TO [--verify]`: both stores opened and checked, progress, the closing checks.

Exit status: 0 when the target holds everything the source does; 1 when something is short
(records that could not be copied, counts that differ, --verify differences); the CLI turns a
wrong URL, an unmigrated target or a store that stays down into one line and status 2.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TextIO

from fashion_classifier.config import Settings
from fashion_classifier.copying import PAGE_SIZE, Checkpoint, Progress, copy, count_check, verify
from fashion_classifier.storage.transfer import TransferStore, open_for_copy


def run_copy(
    source_url: str,
    target_url: str,
    *,
    settings: Settings,
    page_size: int = PAGE_SIZE,
    checkpoint_path: Path | None = None,
    with_verify: bool = False,
    out: TextIO | None = None,
) -> int:
    if _same_store(source_url, target_url):
        raise ValueError("FROM_URL and TO_URL name the same store: nothing to copy")
    if page_size < 1:
        raise ValueError(f"--page-size {page_size}: give at least 1")
    checkpoint = Checkpoint.for_pair(source_url, target_url, checkpoint_path)
    source = open_for_copy(source_url, settings, role="source")
    try:
        target = open_for_copy(target_url, settings, role="target")
        try:
            return _copy_and_check(
                source,
                target=target,
                checkpoint=checkpoint,
                page_size=page_size,
                with_verify=with_verify,
                out=out or sys.stdout,
            )
        finally:
            target.close()
    finally:
        source.close()


def _copy_and_check(
    source: TransferStore,
    *,
    target: TransferStore,
    checkpoint: Checkpoint,
    page_size: int,
    with_verify: bool,
    out: TextIO,
) -> int:
    print(f"copying {source.describe()} into {target.describe()}", file=sys.stderr, flush=True)
    try:
        copied = copy(source, target, checkpoint=checkpoint, page_size=page_size, report=ProgressBar())
    except KeyboardInterrupt:
        print(
            f"\ninterrupted: what was written is complete; run the same command again to continue "
            f"(the position is kept in {checkpoint.path})",
            file=sys.stderr,
            flush=True,
        )
        raise
    short = False
    for progress in copied:
        print(
            f"{progress.kind}: {progress.seen} read, {progress.written} written, "
            f"{progress.unchanged} already in the target, {progress.skipped} not copied",
            file=out,
        )
        short |= _problems(progress, "not copied", out)
    checked = count_check(source, target)
    print("\n".join(checked.lines()), file=out)
    for kind, missing in checked.missing.items():
        short = True
        print(
            f"{kind}: the target holds {missing} fewer than the source: not copied (see above), or kept "
            "in the source after the copy passed them (it is serving): run the same command again",
            file=out,
        )
    if with_verify:
        for progress in verify(source, target, page_size=page_size, report=ProgressBar(verifying=True)):
            print(
                f"verify {progress.kind}: {progress.unchanged} identical in the target (every value and "
                f"picture by SHA-256), {progress.skipped} missing or different",
                file=out,
            )
            short |= _problems(progress, "missing or different", out)
    out.flush()
    return 1 if short else 0


def _problems(progress: Progress, what: str, out: TextIO) -> bool:
    if progress.skipped:
        print(f"{progress.skipped} {progress.kind} {what}, for example:", file=out)
        for line in progress.problems:
            print(f"  {line}", file=out)
    return progress.skipped > 0


def _same_store(first: str, second: str) -> bool:
    if first.startswith("sqlite:///") and second.startswith("sqlite:///"):
        return (
            Path(first.removeprefix("sqlite:///")).resolve()
            == Path(second.removeprefix("sqlite:///")).resolve()
        )
    return first == second


class ProgressBar:
    """A one-line bar on a terminal, a line every few seconds elsewhere (a Job's log); on stderr."""

    def __init__(self, *, verifying: bool = False, stream: TextIO | None = None, width: int = 30) -> None:
        self.verifying, self.stream, self.width = verifying, stream or sys.stderr, width
        self.started = time.monotonic()
        self._last_line = 0.0

    def __call__(self, progress: Progress) -> None:
        rate = progress.seen / max(time.monotonic() - self.started, 1e-6)
        total = progress.total or 0
        bar = ""
        if total:
            filled = min(self.width, self.width * progress.seen // total)
            bar = "[" + "#" * filled + "." * (self.width - filled) + "] "
        if self.verifying:
            counts = f"{progress.unchanged} identical, {progress.skipped} different"
        else:
            counts = (
                f"{progress.written} written, {progress.unchanged} unchanged, {progress.skipped} not copied"
            )
        line = f"{bar}{progress.seen}{f'/{total}' if total else ''} {progress.kind}: {counts}, {rate:.0f}/s"
        if self.stream.isatty():
            self.stream.write("\r" + line)
        elif time.monotonic() - self._last_line >= 5 or progress.seen >= total:
            self.stream.write(line + "\n")
            self._last_line = time.monotonic()
        self.stream.flush()
