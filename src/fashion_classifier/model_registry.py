"""Model versions kept in the store, and which one answers: list, register, promote, roll back.

Every version (its ONNX bytes and model card) lives in the store itself, beside the records, so
every replica and every worker sees the same list. Which one answers is a pointer ("active"),
moved by a compare-and-set: of two promotions at once, one wins and the other is told so.
Workers follow the pointer (model_watch.py) and switch between requests, without a restart.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fashion_classifier.inference import Classifier, ModelNotFound, read_card
from fashion_classifier.records import ActiveModel, ModelVersion
from fashion_classifier.storage import PredictionStore, SchemaNotReady

VERSION_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class ModelRegistryError(ValueError):
    """A registry request that cannot be done as asked; the message says why and what to do."""


class UnknownModelVersion(ModelRegistryError):
    """No model version of that name is kept."""


class PromotionConflict(ModelRegistryError):
    """The active version changed between reading it and moving it: another promotion won."""


class NothingToRollBack(ModelRegistryError):
    """No version served before the active one."""


class InvalidModel(ModelRegistryError):
    """The ONNX bytes or the card cannot serve."""


class ModelRegistry:
    """The model versions of one store (the service hands it out: PredictionService.models)."""

    def __init__(self, store: PredictionStore) -> None:
        self._store = store

    def list(self) -> list[ModelVersion]:
        """Every kept version, newest first (without the ONNX bytes)."""
        return self._store.model_versions()

    def active(self) -> ActiveModel | None:
        return self._store.active_model()

    def read(self, version: str) -> tuple[ModelVersion, bytes]:
        """A kept version and its ONNX bytes (e.g. the active one, for `learn` to start from)."""
        kept, onnx = self._store.model_version(version), self._store.model_bytes(version)
        if kept is None or onnx is None:
            raise UnknownModelVersion(
                f"no model version {version!r} is kept: `fashion-classifier models list` shows them"
            )
        return kept, onnx

    def register(self, onnx: bytes, card: Mapping[str, Any], *, created_by: str) -> ModelVersion:
        """Keep a new version (its ONNX bytes and model card, whose "version" names it); not promoted.

        Raises InvalidModel when ONNX Runtime cannot open it as a classifier, the card names no
        usable version or describes other bytes (onnx_sha256), or the version is kept already.
        """
        name = str(card.get("version", ""))
        if not VERSION_NAME.match(name):
            raise InvalidModel(
                f"the model card's version {name!r} is not a version name (letters, digits, '.', '_', '-', "
                'at most 64): give the card a "version"'
            )
        digest = hashlib.sha256(onnx).hexdigest()
        if card.get("onnx_sha256") not in (None, digest):
            raise InvalidModel(f"the card of {name} describes another ONNX file (onnx_sha256 differs)")
        try:
            Classifier.from_bytes(onnx, card=dict(card)).warm_up()
        except Exception as exc:  # ONNX Runtime's own errors name no common base class
            raise InvalidModel(f"{name} is not a model this service can answer with: {exc}") from exc
        kept = ModelVersion(name, datetime.now(UTC), created_by, dict(card), digest, len(onnx))
        if not self._store.add_model_version(kept, onnx):
            raise InvalidModel(f"model version {name} is kept already: a version is never replaced")
        return kept

    def promote(self, version: str, *, replacing: str | None = None) -> ActiveModel:
        """Make `version` the one every worker answers with (within MODEL_POLL_SECONDS).

        `replacing`: only if that version still answers (`learn --promote` names the one it learnt
        from, so that of two runs from the same version only the first promotes).
        """
        if self._store.model_version(version) is None:
            raise UnknownModelVersion(
                f"no model version {version!r} is kept: `fashion-classifier models list` shows them"
            )
        current = self._store.active_model()
        if current is not None and current.version == version:
            return current
        expected = None if current is None else current.version
        return self._move(version, expected=replacing if replacing is not None else expected)

    def rollback(self) -> ActiveModel:
        """Back to the version that answered before the last switch (a second rollback undoes the first)."""
        current = self._store.active_model()
        if current is None or current.previous is None:
            raise NothingToRollBack(
                "no version answered before the active one: nothing to roll back to "
                "(`fashion-classifier models promote VERSION` chooses one)"
            )
        return self._move(current.previous, expected=current.version)

    def _move(self, version: str, *, expected: str | None) -> ActiveModel:
        if not self._store.set_active(version, expected=expected):
            now = self._store.active_model()
            raise PromotionConflict(
                f"the active version changed meanwhile (another promotion won: it is now "
                f"{now.version if now else 'none'}); {version} was not made active: check "
                "`fashion-classifier models list`, then try again if still wanted"
            )
        after = self._store.active_model()
        assert after is not None
        return after

    def seed(self, model_path: Path, *, created_by: str) -> ModelVersion | None:
        """On a registry with no version yet: keep the model `model_path` names and make it active.

        The model that served before the registry existed (MODEL_PATH) stays what serves. None
        when the registry holds a version already (or another migrator seeded it first).
        """
        try:
            if self._store.model_versions() or self._store.active_model() is not None:
                return None
        except SchemaNotReady:  # migrated only up to a version before the registry (--to)
            return None
        if not model_path.is_file():
            raise ModelNotFound(f"no model at {model_path} to register as the first version: set MODEL_PATH")
        card = read_card(model_path)
        card = {**card, "version": str(card.get("version", model_path.stem))}
        onnx = model_path.read_bytes()
        digest = hashlib.sha256(onnx).hexdigest()
        kept = ModelVersion(card["version"], datetime.now(UTC), created_by, card, digest, len(onnx))
        self._store.add_model_version(kept, onnx)
        return kept if self._store.set_active(kept.version, expected=None) else None
