"""Image classification data as flat float arrays: scikit-learn's digits offline, MNIST and CIFAR-10
through torchvision.

    x_train, y_train, x_test, y_test = load_images('digits', data_root='data')

Pixels are scaled to [0, 1] and each image is flattened to one row; `as_images` gives them their
(channels, height, width) shape back for convolutional networks.
"""

import os
import shutil

import numpy as np

from robustness.config import fail

IMAGE_DATASETS = ('digits', 'mnist', 'cifar10')
NUM_CLASSES = {'digits': 10, 'mnist': 10, 'cifar10': 10}
# How a flattened row is laid out: (channels, height, width) and whether the channels come last (CIFAR's HWC).
IMAGE_LAYOUTS = {'digits': ((1, 8, 8), False), 'mnist': ((1, 28, 28), False), 'cifar10': ((3, 32, 32), True)}


def load_images(dataset, data_root, test_fraction=0.3, seed=0):
    """(x_train, y_train, x_test, y_test); digits has no official split, so a stratified one is drawn."""
    if dataset == 'digits':
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
        digits = load_digits()
        x = digits.data.astype(np.float32) / 16.0  # 8x8 images with values 0..16
        return tuple(train_test_split(x, digits.target, test_size=test_fraction, stratify=digits.target,
                                      random_state=seed)[i] for i in (0, 2, 1, 3))
    train, test = (_torchvision_split(dataset, data_root, train) for train in (True, False))
    return train + test


def _torchvision_split(dataset, data_root, train):
    import torchvision
    source = {'mnist': torchvision.datasets.MNIST, 'cifar10': torchvision.datasets.CIFAR10}[dataset]
    try:
        split = source(data_root, train=train, download=False)
    except RuntimeError:  # not in data_root yet: try to download it
        before = _paths_under(data_root)
        try:
            split = source(data_root, train=train, download=True)
        except Exception:
            _remove_new(data_root, before)  # nothing half-written: no empty MNIST/raw tree after the error
            fail(f"data_root: {dataset} is not in {data_root!r} and could not be downloaded (no network?); "
                 f"copy torchvision's {source.__name__} files there from a machine with a network, "
                 f"e.g. torchvision.datasets.{source.__name__}({data_root!r}, download=True)")
    images = np.asarray(split.data, dtype=np.float32).reshape(len(split.data), -1) / 255.0
    return images, np.asarray(split.targets)


def _paths_under(root):
    """Every file and folder below `root`, root included (empty if it does not exist)."""
    if not os.path.exists(root):
        return set()
    found = {root}
    for folder, folders, files in os.walk(root):
        found.update(os.path.join(folder, name) for name in folders + files)
    return found


def _remove_new(root, before):
    """Remove what a failed download created below `root` (and root, if it created that too), deepest first."""
    for path in sorted(_paths_under(root) - before, key=len, reverse=True):
        if os.path.isdir(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            os.remove(path)


def as_images(x, dataset):
    """Flattened rows of `load_images` -> a float32 array (N, channels, height, width)."""
    (channels, height, width), channels_last = IMAGE_LAYOUTS[dataset]
    if channels_last:
        return np.ascontiguousarray(x.reshape(len(x), height, width, channels).transpose(0, 3, 1, 2))
    return x.reshape(len(x), channels, height, width)
