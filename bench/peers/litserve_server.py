"""The same model and preprocessing served by LitServe, as its documentation sets a server up.

A LitAPI (setup / decode_request / predict / encode_response) under a LitServer on the CPU, one
inference worker per core. No store. The picture comes base64-encoded in a JSON body, as in
LitServe's image examples: a multipart upload reaches decode_request as a starlette form, which
LitServe 0.2.19 fails to pass to its inference worker process ("Pickling an AuthenticationString
object is disallowed"), so every multipart request got a 500.

    python bench/peers/litserve_server.py PORT
"""

from __future__ import annotations

import base64
import os
import sys

import litserve as ls
import numpy as np

from fashion_classifier.inference import Classifier
from fashion_classifier.preprocessing import preprocess_bytes


class FashionAPI(ls.LitAPI):
    def setup(self, device: str) -> None:
        self.classifier = Classifier.load(os.environ["MODEL_PATH"])

    def decode_request(self, request: dict) -> np.ndarray:  # type: ignore[type-arg]
        return preprocess_bytes(base64.b64decode(request["image"]))

    def predict(self, batch: np.ndarray) -> dict:  # type: ignore[type-arg]
        prediction = self.classifier.predict(batch)
        return {"label": prediction.label, "probabilities": list(prediction.probabilities)}

    def encode_response(self, output: dict) -> dict:  # type: ignore[type-arg]
        return output


if __name__ == "__main__":
    server = ls.LitServer(FashionAPI(), accelerator="cpu", devices=1, workers_per_device=2, fast_queue=True)
    server.run(
        host="127.0.0.1",
        port=int(sys.argv[1]),
        num_api_servers=1,
        log_level="warning",
        generate_client_file=False,
    )
