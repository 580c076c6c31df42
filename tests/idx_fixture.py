"""MNIST files in torchvision's raw IDX format, written from arrays, so that the real reading path is exercised."""

import os

import numpy as np


def write_mnist(root, images, labels, train):
    """Write uint8 `images` (N, 28, 28) and `labels` (N,) where torchvision.datasets.MNIST(root) reads them."""
    raw = os.path.join(root, 'MNIST', 'raw')
    os.makedirs(raw, exist_ok=True)
    prefix = 'train' if train else 't10k'
    with open(os.path.join(raw, f'{prefix}-images-idx3-ubyte'), 'wb') as f:
        f.write(np.array([0x803, len(images), 28, 28], dtype='>i4').tobytes() + images.astype(np.uint8).tobytes())
    with open(os.path.join(raw, f'{prefix}-labels-idx1-ubyte'), 'wb') as f:
        f.write(np.array([0x801, len(labels)], dtype='>i4').tobytes() + labels.astype(np.uint8).tobytes())


def synthetic_digits(count, seed=0):
    """`count` 28x28 images whose class is a bright bar at a class-dependent row, plus noise: learnable, not real."""
    rng = np.random.default_rng(seed)
    labels = np.arange(count) % 10
    images = rng.integers(0, 60, size=(count, 28, 28))
    for row in range(10):
        images[labels == row, 2 + 2 * row:4 + 2 * row, 4:24] = 255
    return images.astype(np.uint8), labels
