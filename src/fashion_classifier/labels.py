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


# A correction that says "this is none of the ten garments". Kept as is in the store's
# corrected_label column; its wording below. Not a class: never in CLASSES, never a class index.
NOT_A_GARMENT = "Not a garment"
NOT_A_GARMENT_TEXT = "Not one of the ten garments"
NOT_A_GARMENT_TEXT_ZH = "不是这十类服装之一"
# What a correction may say: one of the ten classes, or that the picture is not a garment.
CORRECTIONS: tuple[str, ...] = (*CLASSES, NOT_A_GARMENT)


def check_correction(label: str) -> str:
    """The label if a correction may say it; ValueError naming what it may say otherwise."""
    if label not in CORRECTIONS:
        raise ValueError(
            f"unknown class {label[:40]!r}; expected one of: {', '.join(CLASSES)}, or {NOT_A_GARMENT!r} "
            "for a picture that is none of them"
        )
    return label
