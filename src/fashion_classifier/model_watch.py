"""A worker follows the store's active model version: polls it, and switches between requests.

One daemon thread per worker process, started after the fork (create_app). Every
MODEL_POLL_SECONDS it reads the active pointer; when it names another version, it fetches that
version's bytes, opens and warms up a Classifier beside the current one, and then replaces the
service's reference to it: one assignment, so a request takes either the old model or the new
one at its start and keeps it to its end. While the store does not answer, the current model
keeps answering (and the log says so once).
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable
from typing import Protocol

from fashion_classifier.inference import Classifier
from fashion_classifier.storage import PredictionStore, SchemaNotReady, StoreUnavailable

log = logging.getLogger(__name__)


class ModelHolder(Protocol):
    """What the watcher switches: the service (held weakly, so a dropped app ends its watcher)."""

    def current_model(self) -> Classifier: ...

    def use_model(self, classifier: Classifier) -> None: ...


class ModelWatcher:
    """Polls the active pointer of `store` and switches `holder` to the version it names."""

    def __init__(
        self,
        store: PredictionStore,
        holder: ModelHolder,
        *,
        every: float,
        on_switch: Callable[[str, str], None] = lambda old, new: None,
    ) -> None:
        self._store = store
        self._holder = weakref.ref(holder)
        self.every = every
        self._on_switch = on_switch
        self._complained = False
        self._stop = threading.Event()

    def start(self) -> ModelWatcher:
        threading.Thread(target=self._run, name="model-watch", daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            if self._holder() is None:
                return  # its app is gone
            self.check()

    def check(self) -> str | None:
        """Switch now if the active version changed; the version switched to (None: no switch)."""
        holder = self._holder()
        if holder is None:
            return None
        try:
            active = self._store.active_model()
            if active is None or active.version == holder.current_model().version:
                self._complained = False
                return None
            classifier = self._open(active.version)
        except SchemaNotReady:
            return None  # no registry before migration 4: MODEL_PATH's model answers, as before
        except StoreUnavailable as exc:
            if not self._complained:
                log.warning("cannot read the active model version; the current one keeps answering: %s", exc)
                self._complained = True
            return None
        except Exception:  # a version ONNX Runtime cannot open: never take a worker down for it
            if not self._complained:
                log.exception("cannot open the active model version; the current one keeps answering")
                self._complained = True
            return None
        old = holder.current_model().version
        holder.use_model(classifier)
        self._complained = False
        log.info("model switched from %s to %s", old, classifier.version)
        self._on_switch(old, classifier.version)
        return classifier.version

    def _open(self, version: str) -> Classifier:
        kept, data = self._store.model_version(version), self._store.model_bytes(version)
        if kept is None or data is None:
            raise StoreUnavailable(f"the active model version {version} is not kept in the store")
        classifier = Classifier.from_bytes(data, card={**kept.card, "version": version})
        classifier.warm_up()
        return classifier
