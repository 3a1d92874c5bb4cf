"""The ten Fashion-MNIST classes, in the data set's label order."""

from __future__ import annotations

# English names exactly as the data set publishes them; the public contract of predict_imgpath.
CLASSES: tuple[str, ...] = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)

CLASSES_ZH: tuple[str, ...] = (
    "T恤/上衣",
    "裤子",
    "套头衫",
    "连衣裙",
    "外套",
    "凉鞋",
    "衬衫",
    "运动鞋",
    "包",
    "短靴",
)


def class_index(name: str) -> int:
    """Index of a class given its English name; ValueError if unknown."""
    try:
        return CLASSES.index(name)
    except ValueError:
        raise ValueError(f"unknown class {name[:40]!r}; expected one of: {', '.join(CLASSES)}") from None
