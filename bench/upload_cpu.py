"""CPU one upload costs in-process: the Flask test client, the real app, a store that keeps nothing.

Isolates the Python work of an upload (multipart parsing, decoding, checks, the model, the kept
copy) from the network and the store, so each change to that path can be measured in seconds:

    PYTHONPATH=src python bench/upload_cpu.py [uploads]
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fashion_classifier.config import Settings
from fashion_classifier.inference import Classifier
from fashion_classifier.records import Record, StoredImage
from fashion_classifier.service import PredictionService
from fashion_classifier.web import create_app
from service import BOUNDARY, INPUTS, multipart


class NullStore:
    """Accepts every record and keeps none: only the upload path's own CPU is measured."""

    where = "nowhere"

    def __init__(self) -> None:
        self.kept: list[tuple[Record, StoredImage]] = []

    def add_many(self, items: Sequence[tuple[Record, StoredImage]]) -> None:
        self.kept[:] = list(items)

    def schema_version(self) -> int:
        return 10**6

    def check_schema(self) -> None:
        return None


def main() -> None:
    uploads = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    settings = Settings.from_env()
    store = NullStore()
    service = PredictionService(Classifier.load(settings.model_path), store)  # type: ignore[arg-type]
    app = create_app(settings)
    app.extensions["service"] = service  # the app's one service, here over a store that keeps nothing
    client = app.test_client()
    for name, content in INPUTS.items():
        for _ in range(50):  # warm up
            post(client, name, content)
        started = time.process_time()
        for _ in range(uploads):
            post(client, name, content)
        spent = (time.process_time() - started) / uploads * 1000
        kept = store.kept[0][1]
        print(f"{name:14} {spent:.3f} ms CPU per upload; kept {kept.content_type} {len(kept.data)} bytes")


def post(client, name: str, content: bytes) -> None:  # type: ignore[no-untyped-def]
    # One fixed boundary, as the load generators send (a new one per request would measure
    # werkzeug compiling a new regular expression each time).
    response = client.post(
        "/api/v1/predictions",
        data=multipart(f"{name}.bin", content),
        content_type=f"multipart/form-data; boundary={BOUNDARY}",
    )
    assert response.status_code == 201, response.get_data(as_text=True)


if __name__ == "__main__":
    main()
