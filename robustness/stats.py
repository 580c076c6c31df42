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


def crossing(grid, difference):
    """The first level where the curve `difference` (a - b) changes sign, by linear interpolation; None if none."""
    for i in range(len(grid) - 1):
        d0, d1 = difference[i], difference[i + 1]
        if np.isfinite(d0) and np.isfinite(d1) and d0 * d1 < 0:
            return grid[i] + (grid[i + 1] - grid[i]) * d0 / (d0 - d1)
    return None


def compare_models(grid, A, B, a, b, resamples, rng, higher_is_worse=True):
    """Compare the damage curves of models a and b.

    A and B are (levels, training seeds, draws) measurements at the levels `grid` (which holds 0, the intact
    model, repeated over the draws); draws with the same index share their damage (paired). Returns the crossover of
    the two curves and the difference a - b in relative change metric(p) / metric(0), per level and averaged over the
    damaged levels, each with a 95% interval from `paired_two_level_bootstrap`, a verdict, and the smallest
    difference the design detects. `higher_is_worse`: bits per byte (True) or accuracy (False)."""
    A, B = np.asarray(A, float), np.asarray(B, float)
    with np.errstate(invalid='ignore', over='ignore', divide='ignore'):
        # the raw and the relative values resampled together: levels stacked twice
        boot_a, boot_b = paired_two_level_bootstrap(np.concatenate([A, A / A[:1]]), np.concatenate([B, B / B[:1]]),
                                                    resamples, rng)
        levels = len(grid)
        boot_relative = boot_a[:, levels:] - boot_b[:, levels:]
        crossings = [crossing(grid, boot_a[r, :levels] - boot_b[r, :levels]) for r in range(resamples)]
        relative = (A / A[:1]).mean(axis=(1, 2)) - (B / B[:1]).mean(axis=(1, 2))
    found = [c for c in crossings if c is not None]
    point = crossing(grid, A.mean(axis=(1, 2)) - B.mean(axis=(1, 2)))
    damaged = [i for i, level in enumerate(grid) if level > 0]
    damaged_boot = boot_relative[:, damaged].mean(1) if damaged else None
    ci = interval(damaged_boot) if damaged else None
    worse, better = f'{a} less robust than {b}', f'{a} more robust than {b}'
    return {
        'levels': list(grid), 'repeats': int(A.shape[2]), 'training_seeds': [int(A.shape[1]), int(B.shape[1])],
        'mean_a': [float(x) for x in A.mean(axis=(1, 2))], 'mean_b': [float(x) for x in B.mean(axis=(1, 2))],
        'crossover': point, 'crossover_ci95': interval(found) if point is not None else None,
        'crossover_fraction_of_resamples': len(found) / resamples,
        'relative_change_difference': [float(x) for x in relative],
        'relative_change_difference_ci95': [interval(boot_relative[:, i]) for i in range(levels)],
        'mean_over_damaged_levels': float(relative[damaged].mean()) if damaged else None,
        'mean_over_damaged_levels_ci95': ci,
        'detectable_difference': detectable_difference(damaged_boot) if damaged else None,
        'verdict': verdict(ci, worse, better) if higher_is_worse else verdict(ci, better, worse),
        'non_finite_values': int((~np.isfinite(A)).sum() + (~np.isfinite(B)).sum()),
    }


def curve_table(rows, value):
    """(levels, array (levels, training seeds, draws)) of column `value` from the tidy rows of one model under one
    damage (columns level, train_seed, repeat). A level measured once (the intact model) is repeated over the draws;
    every cell keeps the draws that all damaged cells have. None when a (level, seed) cell is missing."""
    if rows.empty:
        return None
    grid, seeds = sorted(rows['level'].unique()), sorted(rows['train_seed'].unique())
    cells = {key: group.sort_values('repeat')[value].to_numpy(float) for key, group in rows.groupby(['level', 'train_seed'])}
    if len(cells) != len(grid) * len(seeds):
        return None
    n = min([len(values) for (level, _), values in cells.items() if level > 0] or [1])
    return grid, np.array([[np.resize(cells[level, s][:n], n) for s in seeds] for level in grid])


def compare_rows(rows_a, rows_b, value, a, b, resamples, rng, higher_is_worse=True):
    """`compare_models` on the levels that both models' tidy rows share (0 among them); None if there is nothing to
    compare (a model missing, an incomplete grid, no intact level)."""
    ta, tb = curve_table(rows_a, value), curve_table(rows_b, value)
    if ta is None or tb is None:
        return None
    grid = sorted(set(ta[0]) & set(tb[0]))
    if 0.0 not in grid or len(grid) < 2:
        return None
    A, B = (values[[levels.index(level) for level in grid]] for levels, values in (ta, tb))
    n = min(A.shape[2], B.shape[2])  # the same draw indices pair the same damage
    return compare_models(grid, A[..., :n], B[..., :n], a, b, resamples, rng, higher_is_worse)
