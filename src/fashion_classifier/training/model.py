"""The Keras CNN and its training-time augmentation."""

from __future__ import annotations

import keras
from keras import layers

INPUT_SHAPE = (28, 28, 1)


def conv_block(x: keras.KerasTensor, filters: int, *, name: str) -> keras.KerasTensor:
    """Two 3x3 convolutions with batch norm; bias is redundant before BN."""
    for i in (1, 2):
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv{i}")(x)
        x = layers.BatchNormalization(name=f"{name}_bn{i}")(x)
        x = layers.ReLU(name=f"{name}_relu{i}")(x)
    return x


def build_model(*, widths: tuple[int, int, int] = (32, 64, 128), dropout: float = 0.4) -> keras.Model:
    """A small VGG-style CNN: cheap at 28x28, most capacity at 7x7, softmax output.

    Input: (n, 28, 28, 1) float32 in [0, 1], light garment on black (as the data set).
    """
    inputs = keras.Input(INPUT_SHAPE, name="image")
    x = conv_block(inputs, widths[0], name="block1")
    x = layers.MaxPooling2D(name="pool1")(x)
    x = conv_block(x, widths[1], name="block2")
    x = layers.MaxPooling2D(name="pool2")(x)
    x = conv_block(x, widths[2], name="block3")
    x = layers.MaxPooling2D(name="pool3")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dropout(dropout / 2, name="drop1")(x)
    x = layers.Dense(256, use_bias=False, name="fc")(x)
    x = layers.BatchNormalization(name="fc_bn")(x)
    x = layers.ReLU(name="fc_relu")(x)
    x = layers.Dropout(dropout, name="drop2")(x)
    outputs = layers.Dense(10, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="fashion_cnn")


def build_augmentation(*, seed: int) -> keras.Sequential:
    """Mild geometry noise: real uploads are mirrored, a little off-centre, a little rotated."""
    return keras.Sequential(
        [
            layers.RandomFlip("horizontal", seed=seed),
            layers.RandomTranslation(0.07, 0.07, fill_mode="constant", seed=seed + 1),
            layers.RandomRotation(0.015, fill_mode="constant", seed=seed + 2),
        ],
        name="augmentation",
    )
