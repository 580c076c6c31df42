"""Confidence intervals that count both sources of doubt in a damage experiment: which model training
produced (the training seed) and which damage was drawn (the draw seed).

    means = two_level_bootstrap(values, resamples=2000, rng=rng)   # values: (groups, seeds, draws)
    low, high = interval(slope(x, means))

A two-level (hierarchical) bootstrap: each resample picks the training seeds of a group with replacement,
then, for each picked seed, its draws with replacement. With one training seed it reduces to a bootstrap
over the draws, and with one seed and one draw (a deterministic damage of a single model) there is nothing
to resample: `interval` then gives None rather than a zero-width interval.
"""

import numpy as np


def two_level_bootstrap(values, resamples, rng):
    """(resamples, groups) bootstrap means of `values` (groups, seeds, draws), seeds resampled, then draws."""
    values = np.asarray(values, float)
    groups, seeds, draws = values.shape
    seed_index = rng.integers(0, seeds, size=(resamples, groups, seeds))
    draw_index = rng.integers(0, draws, size=(resamples, groups, seeds, draws))
    group_index = np.arange(groups)[None, :, None, None]
    picked = values[group_index, seed_index[..., None], draw_index]  # (resamples, groups, seeds, draws)
    return picked.mean(axis=(2, 3))


def slope(x, y):
    """Least-squares slope of y against x along the last axis (y: (..., len(x)))."""
    x = np.asarray(x, float)
    centred = x - x.mean()
    return (np.asarray(y, float) - np.mean(y, axis=-1, keepdims=True)) @ centred / (centred ** 2).sum()


def interval(samples, level=0.95):
    """The central `level` percentile interval of the finite bootstrap `samples`; None when they do not vary."""
    samples = np.asarray(samples, float)
    samples = samples[np.isfinite(samples)]
    if len(samples) == 0 or np.ptp(samples) == 0:
        return None
    tail = 100 * (1 - level) / 2
    return [float(np.percentile(samples, tail)), float(np.percentile(samples, 100 - tail))]


def verdict(ci, positive, negative, none='no difference detectable'):
    """`positive` when the interval lies above zero, `negative` below, `none` when it holds zero (or is None)."""
    if ci is None:
        return 'no interval (nothing varies between resamples)'
    return positive if ci[0] > 0 else negative if ci[1] < 0 else none


def paired_two_level_bootstrap(A, B, resamples, rng):
    """Bootstrap means of two models' measurements A (levels, seeds_a, draws) and B (levels, seeds_b, draws) whose
    draws are paired by index (the same damage masks for both): each resample picks each model's training seeds
    with replacement, independently, and one set of draw indices for both. Returns two (resamples, levels) arrays."""
    A, B = np.asarray(A, float), np.asarray(B, float)
    draws = A.shape[2]
    draw_index = rng.integers(0, draws, size=(resamples, 1, draws))
    means = []
    for values in (A, B):
        seed_index = rng.integers(0, values.shape[1], size=(resamples, values.shape[1], 1))
        means.append(values[:, seed_index, draw_index].mean(axis=(2, 3)).T)  # (levels, resamples, seeds, draws) -> ...
    return means


def detectable_difference(boot_samples):
    """The smallest true difference the design detects with 80% power at the 5% level: (1.96 + 0.84) standard errors,
    the standard error taken from the bootstrap distribution."""
    samples = np.asarray(boot_samples, float)
    samples = samples[np.isfinite(samples)]
    return float(2.8 * samples.std()) if len(samples) > 1 and np.ptp(samples) > 0 else None
