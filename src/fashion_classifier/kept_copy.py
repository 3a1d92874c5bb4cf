"""What is kept of an upload besides its prediction: its file name as plain data, its picture re-encoded."""

from __future__ import annotations

import io
import unicodedata

from PIL import Image

from fashion_classifier.preprocessing import normalise_mode
from fashion_classifier.records import StoredImage

MAX_FILENAME_LENGTH = 255

# Control and format characters (bidi overrides such as U+202E, zero-width spaces and joiners)
# and line separators: they make a name show as something it is not ("gpj.exe" read backwards).
HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})


def clean_filename(name: str | None) -> str:
    """The client's file name as plain data: no control, format or bidi characters, bounded length."""
    text = "".join(ch for ch in (name or "") if unicodedata.category(ch) not in HIDDEN_CATEGORIES)
    return text.strip()[:MAX_FILENAME_LENGTH]


def stored_copy(image: Image.Image, *, max_side: int) -> StoredImage:
    """Re-encode the picture for keeping: bounded size, no metadata, none of the client's bytes."""
    copy = normalise_mode(image)
    if max(copy.size) > max_side:
        copy = copy.copy()  # thumbnail() shrinks in place; the caller's picture stays as it was
        copy.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    if copy.mode == "RGBA":
        copy.save(buffer, format="PNG", optimize=True)
        return StoredImage(buffer.getvalue(), "image/png")
    copy.save(buffer, format="JPEG", quality=88)
    return StoredImage(buffer.getvalue(), "image/jpeg")
