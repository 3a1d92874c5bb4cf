"""The service's model side: the model that answers now, the kept versions, following the active one."""

from __future__ import annotations

from collections.abc import Callable

from fashion_classifier.inference import Classifier
from fashion_classifier.model_registry import ModelRegistry
from fashion_classifier.model_watch import ModelWatcher
from fashion_classifier.storage import PredictionStore


class ServiceModels:
    """Mixed into PredictionService. A use case reads `_model` once and keeps that classifier to its
    end: a model switch (ModelWatcher) replaces the reference, never the classifier in use."""

    _classifier: Classifier | None
    _store: PredictionStore

    @property
    def _model(self) -> Classifier:
        classifier = self._classifier
        if classifier is None:
            raise RuntimeError("this service was opened without its model (from_settings(with_model=False))")
        return classifier

    @property
    def model_version(self) -> str:
        return self._model.version

    def model_card(self) -> dict[str, object]:
        """The model card of the model that answers, with its version."""
        model = self._model
        return {**model.card, "version": model.version}

    @property
    def models(self) -> ModelRegistry:
        """The model versions kept in the store: list, register, promote, rollback."""
        return ModelRegistry(self._store)

    def current_model(self) -> Classifier:
        return self._model

    def use_model(self, classifier: Classifier) -> None:
        self._classifier = classifier  # one assignment: requests in flight keep the one they took

    def follow_active_model(
        self, *, every: float, on_switch: Callable[[str, str], None] = lambda old, new: None
    ) -> ModelWatcher:
        """Answer with the store's active version now, and follow it every `every` s (after the fork)."""
        watcher = ModelWatcher(self._store, self, every=every, on_switch=on_switch)
        watcher.check()
        return watcher.start()
