"""Who sent a correction: a keyed hash of the client's address, never the address itself.

The hash is an HMAC, so that someone who reads the store cannot recover an address by hashing
all four billion IPv4 addresses; the key is CLIENT_KEY (the same on every replica, so that one
client is one client everywhere) or, unset, a random key kept in data/client.key.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
from pathlib import Path

from fashion_classifier.config import Settings

DEFAULT_KEY_FILE = Path("data/client.key")
UNKNOWN_CLIENT = "unknown"  # a request whose address nobody could tell
log = logging.getLogger(__name__)


class ClientHasher:
    """Turns a client address into the token the correction log keeps."""

    def __init__(self, key: bytes | None = None, *, key_file: Path = DEFAULT_KEY_FILE) -> None:
        self._key, self._key_file = key, key_file  # no key: read (or made) on first use

    @classmethod
    def random(cls) -> ClientHasher:
        """A key of this object's own (a service made without settings: tests, one-off tools)."""
        return cls(secrets.token_bytes(32))

    @classmethod
    def from_settings(cls, settings: Settings) -> ClientHasher:
        return cls(settings.client_key.encode() if settings.client_key else None)

    def __call__(self, address: str | None) -> str:
        if not address:
            return UNKNOWN_CLIENT
        if self._key is None:
            self._key = _kept_key(self._key_file)
        return hmac.new(self._key, address.encode(), hashlib.sha256).hexdigest()[:32]


def _kept_key(path: Path) -> bytes:
    """The key in `path`, made there (readable by its owner only) by the first process that needs it.

    Written whole under another name, then linked into place: a second process either finds the
    whole key or makes the link first.
    """
    try:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            draft = path.with_name(f".{path.name}.{os.getpid()}")
            with os.fdopen(os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as file:
                file.write(secrets.token_hex(32))
            try:
                os.link(draft, path)
            except FileExistsError:
                pass
            finally:
                draft.unlink()
        return path.read_text().strip().encode()
    except OSError as exc:
        log.warning(
            "cannot keep a client key in %s (%s): set CLIENT_KEY; this process uses its own", path, exc
        )
        return secrets.token_bytes(32)
