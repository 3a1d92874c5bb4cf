"""Peak resident memory of every server process under the hostile requests of issue 11.

    PYTHONPATH=src python bench/hostile_memory.py

Starts `fashion-classifier serve` on SQLite, sends each request once and prints its status, its
time and the highest VmHWM (peak resident) of the server's processes after it. Point PYTHONPATH
at an older checkout's src/ to measure that one. The figures are in docs/hardening.md.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.e2e import test_memory as hostile  # noqa: E402
from tests.e2e.conftest import start_server, stop_server  # noqa: E402
from tests.pictures import encode  # noqa: E402


def requests_to_send() -> dict[str, list[tuple[str, bytes]]]:
    small_alpha = encode(Image.new("RGBA", (1000, 1000), (0, 0, 0, 0)))
    palette = encode(Image.new("P", (1000, 1000)), "GIF")
    mix = [("big.png", hostile.blank_rgba()), ("deep.png", hostile.sixteen_bit(3000))]
    mix += [(f"small{n}.png", small_alpha if n % 2 else palette) for n in range(7)]
    mix += [(f"deep{n}.png", hostile.sixteen_bit(1000)) for n in range(7)]
    return {
        "16 blank 4898x4898 RGBA PNGs": [(f"blank{n}.png", hostile.blank_rgba()) for n in range(16)],
        "16 files, 47 Mpx: RGBA 24 Mpx, 16-bit 9 Mpx, 14 small": mix,
        "RGBA 24 Mpx + 16-bit 24 Mpx": [
            ("a.png", hostile.blank_rgba()),
            ("b.png", hostile.sixteen_bit(4898)),
        ],
    }


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        server = start_server(f"sqlite:///{folder}/bench.db", Path(folder) / "server.log")
        try:
            print(f"{'request':<56} {'status':>6} {'seconds':>8} {'peak MB':>8}")
            print(f"{'(idle, after start)':<56} {'':>6} {'':>8} {max(hostile.peaks(server).values()):>8.0f}")
            for name, pictures in requests_to_send().items():
                started = time.perf_counter()
                status = hostile.post(server, pictures).status_code
                took = time.perf_counter() - started
                print(f"{name:<56} {status:>6} {took:>8.1f} {max(hostile.peaks(server).values()):>8.0f}")
        finally:
            stop_server(server)


if __name__ == "__main__":
    main()
