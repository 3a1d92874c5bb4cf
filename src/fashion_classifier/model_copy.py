"""`copy` of the model versions (bytes and cards) and of which one is active: a kind of copying.KINDS.

A few versions at most: one page. Versions are never replaced, so one the target holds (same
bytes) is left as it is; the pointer is moved to the source's active version by the same
compare-and-set as a promotion (its "previous" is the target's own).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from fashion_classifier.records import ActiveModel, ModelVersion
from fashion_classifier.storage import PredictionStore, SchemaNotReady

ACTIVE_KEY = "(active)"


@dataclass(frozen=True)
class KeptModel:
    """A model version with its bytes, or (version None) the active pointer."""

    version: ModelVersion | None
    onnx: bytes = b""
    active: ActiveModel | None = None

    @property
    def key(self) -> str:
        return self.version.version if self.version else ACTIVE_KEY

    def problem(self) -> str | None:
        return None

    def held_as(self, held: KeptModel | None) -> bool:
        if held is None:
            return False
        if self.version is not None:
            return held.version is not None and held.version.onnx_sha256 == self.version.onnx_sha256
        return (held.active and held.active.version) == (self.active and self.active.version)


def export_models(source: Any, after: str | None, limit: int) -> tuple[list[KeptModel], str | None]:
    store = cast(PredictionStore, source)
    try:
        versions = store.model_versions()
        items = [KeptModel(v, store.model_bytes(v.version) or b"") for v in reversed(versions)]
        active = store.active_model()  # none: the target keeps its own
        return [*items, *([KeptModel(None, active=active)] if active else [])], None
    except SchemaNotReady:  # a source from before the registry: nothing of this kind
        return [], None


def held_models(target: Any, items: Any) -> dict[str, KeptModel]:
    store = cast(PredictionStore, target)
    versions = {item.key: store.model_version(item.key) for item in items if item.version}
    held = {key: KeptModel(kept) for key, kept in versions.items() if kept is not None}
    return {**held, ACTIVE_KEY: KeptModel(None, active=store.active_model())}


def import_models(target: Any, items: Any) -> None:
    store = cast(PredictionStore, target)
    for item in items:
        if item.version is not None:
            store.add_model_version(item.version, item.onnx)
        elif item.active is not None:
            current = store.active_model()
            store.set_active(item.active.version, expected=current.version if current else None)
