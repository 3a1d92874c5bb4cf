"""The seed's design, rebuilt as a benchmark baseline (its one-second sleep left out).

Per upload: Keras `model.predict` on the picture resized to 28x28 and inverted, a NEW Cassandra
connection, a CQL INSERT built by string formatting. Served by the same gunicorn settings as ours.
"""

from __future__ import annotations

import io
import os
from datetime import UTC, datetime

import keras
import numpy as np
from cassandra.cluster import Cluster
from flask import Flask, request
from PIL import Image

from fashion_classifier.labels import CLASSES
from fashion_classifier.training.model import build_model

KEYSPACE = os.environ.get("SEED_KEYSPACE", "seed_baseline")
HOST = os.environ.get("SEED_CASSANDRA_HOST", "127.0.0.1")
CHECKPOINT = ".checkpoint/best.keras"


def create_app() -> Flask:
    app = Flask(__name__)
    model = keras.models.load_model(CHECKPOINT) if os.path.exists(CHECKPOINT) else build_model()
    setup = Cluster([HOST], protocol_version=5)
    session = setup.connect()
    session.execute(
        f"CREATE KEYSPACE IF NOT EXISTS {KEYSPACE} WITH replication = {{'class': 'SimpleStrategy', 'replication_factor': 1}}"
    )
    session.execute(
        f"CREATE TABLE IF NOT EXISTS {KEYSPACE}.uploads (time timestamp PRIMARY KEY, filename text, label text)"
    )
    setup.shutdown()

    @app.post("/api/v1/predictions")
    def upload() -> tuple[str, int]:
        file = request.files["file"]
        picture = Image.open(io.BytesIO(file.read())).convert("L").resize((28, 28))
        pixels = (255 - np.asarray(picture, dtype=np.float32)) / 255.0  # the seed always inverted
        label = CLASSES[int(np.argmax(model.predict(pixels.reshape(1, 28, 28, 1), verbose=0)))]
        cluster = Cluster([HOST], protocol_version=5)  # a new connection per upload, as the seed did
        connection = cluster.connect()
        moment = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
        connection.execute(
            f"INSERT INTO {KEYSPACE}.uploads (time, filename, label) VALUES ('{moment}', '{file.filename}', '{label}')"
        )
        cluster.shutdown()
        return label, 201

    return app
