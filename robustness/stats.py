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
from scipy import stats


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
    damage (columns level, train_seed, repeat). A level measured once (the intact model, or random deletion of every
    weight) is repeated over the draws; every other cell keeps the draws that all of them have. None when a (level, seed) cell is missing."""
    if rows.empty:
        return None
    grid, seeds = sorted(rows['level'].unique()), sorted(rows['train_seed'].unique())
    cells = {key: group.sort_values('repeat')[value].to_numpy(float) for key, group in rows.groupby(['level', 'train_seed'])}
    if len(cells) != len(grid) * len(seeds):
        return None
    # levels measured once (the intact model, a deterministic kind, every weight deleted) are repeated over the draws
    n = min([len(values) for (level, _), values in cells.items() if level > 0 and len(values) > 1] or [1])
    return grid, np.array([[np.resize(cells[level, s][:n], n) for s in seeds] for level in grid])


def compare_rows(rows_a, rows_b, value, a, b, resamples, rng, higher_is_worse=True, floors=None, fraction=0.5):
    """`compare_models` on the levels that both models' tidy rows share (0 among them); None if there is nothing to
    compare (a model missing, an incomplete grid, no intact level). With `floors` ({training seed: floor} of a and of
    b), also the half-failure levels (`compare_half_failure`) under the key `half_failure_level`."""
    ta, tb = curve_table(rows_a, value), curve_table(rows_b, value)
    if ta is None or tb is None:
        return None
    grid = sorted(set(ta[0]) & set(tb[0]))
    if 0.0 not in grid or len(grid) < 2:
        return None
    A, B = (values[[levels.index(level) for level in grid]] for levels, values in (ta, tb))
    n = min(A.shape[2], B.shape[2])  # the same draw indices pair the same damage
    result = compare_models(grid, A[..., :n], B[..., :n], a, b, resamples, rng, higher_is_worse)
    if floors is not None:
        seeds = [sorted(rows['train_seed'].unique()) for rows in (rows_a, rows_b)]
        if all(seed in floor for floor, names in zip(floors, seeds) for seed in names):
            result['half_failure_level'] = compare_half_failure(
                grid, A[..., :n], B[..., :n], [floors[0][seed] for seed in seeds[0]],
                [floors[1][seed] for seed in seeds[1]], resamples, rng, fraction)
    return result


def half_failure(grid, curve, intact, floor, fraction=0.5):
    """The first level of `grid` at which `curve` (the mean over draws at each level) has gone `fraction` of the way
    from `intact` to `floor`, linearly interpolated between the two grid levels around the crossing; None when the
    curve never gets there within the grid. Works for metrics that rise with damage (bpb: floor above intact) and
    for those that fall (accuracy: floor, the chance level, below). An infinite value (an overflowed loss) is past
    the target at its own level, without interpolation; NaN is skipped."""
    target = intact + fraction * (floor - intact)
    sign = 1.0 if floor >= intact else -1.0
    previous = None
    for level, value in zip(grid, curve):
        if np.isinf(value) and sign * value > 0:  # overflowed (an infinite bpb): past the target, at this level
            return float(level)
        if np.isfinite(value) and sign * (value - target) >= 0:
            if previous is None:
                return float(level)
            (level0, value0) = previous
            return float(level0 + (level - level0) * (target - value0) / (value - value0))
        previous = (level, value) if np.isfinite(value) else previous
    return None


def model_half_failure(grid, values, floors, fraction=0.5):
    """A model's half-failure level from `values` (levels, training seeds, draws; grid[0] = 0, the intact model) and
    the floor of each training seed: per seed, the level where its draw-mean curve crosses; then the mean over the
    seeds. None if any seed does not reach it within the grid ("not reached": a result, never a number)."""
    curves = np.asarray(values, float).mean(axis=2)  # (levels, seeds)
    levels = [half_failure(grid, curves[:, s], curves[0, s], floors[s], fraction) for s in range(curves.shape[1])]
    return None if any(level is None for level in levels) else float(np.mean(levels))


def compare_half_failure(grid, A, B, floors_a, floors_b, resamples, rng, fraction=0.5):
    """Half-failure levels of models a and b and the difference a - b, with a 95% interval from the paired two-level
    bootstrap (each model's training seeds with replacement, then one set of draw indices for both: the same masks).
    A resample in which either model does not reach half-failure gives no difference; the share of resamples that
    give one is reported, and no interval is given unless at least 95% of them do. The percentile interval is too
    narrow over few training seeds (it covered a synthetic null 82% of the time with 3 seeds, 89% with 5), so the
    interval is the difference +- t(0.975, n - 1) x the bootstrap SE x sqrt(n / (n - 1)), n the smaller number of
    training seeds (tests/test_stats.py: it covers the null at least 36 times in 40)."""
    A, B = np.asarray(A, float), np.asarray(B, float)
    floors_a, floors_b = np.asarray(floors_a, float), np.asarray(floors_b, float)
    a, b = model_half_failure(grid, A, floors_a, fraction), model_half_failure(grid, B, floors_b, fraction)
    draws = A.shape[2]
    differences = []
    for _ in range(resamples):
        draw_index = rng.integers(0, draws, size=draws)
        picked = []
        for values, floors in ((A, floors_a), (B, floors_b)):
            seeds = rng.integers(0, values.shape[1], size=values.shape[1])
            picked.append(model_half_failure(grid, values[:, seeds][:, :, draw_index], floors[seeds], fraction))
        if picked[0] is not None and picked[1] is not None:
            differences.append(picked[0] - picked[1])
    share = len(differences) / resamples
    difference = None if a is None or b is None else a - b
    ci, seeds = None, min(A.shape[1], B.shape[1])
    if difference is not None and share >= 0.95 and np.ptp(differences) > 0:
        if seeds >= 2:  # few training seeds: the bootstrap SE, unbiased, with Student's t on seeds - 1 degrees
            half = stats.t.ppf(0.975, seeds - 1) * np.std(differences) * np.sqrt(seeds / (seeds - 1))
            ci = [difference - half, difference + half]
        else:  # one model each: only the draws vary, and there are many
            ci = interval(differences)
    return {'fraction': fraction, 'a': a, 'b': b, 'difference': difference, 'difference_ci95': ci,
            'resamples_reaching': share}


def half_failure_of(rows, value, floors, fraction=0.5):
    """{'level', 'per_seed', 'reached'} of one model under one damage from its tidy rows (columns level, train_seed,
    repeat and `value`) and {training seed: floor}; level None when a seed does not reach it within the grid."""
    table = curve_table(rows, value)
    if table is None:
        return None
    grid, values = table
    seeds = sorted(rows['train_seed'].unique())
    if grid[0] != 0 or any(seed not in floors for seed in seeds):
        return None
    curves = values.mean(axis=2)
    per_seed = [half_failure(grid, curves[:, s], curves[0, s], floors[seed], fraction) for s, seed in enumerate(seeds)]
    reached = all(level is not None for level in per_seed)
    return {'fraction': fraction, 'level': float(np.mean(per_seed)) if reached else None, 'reached': reached,
            'per_seed': per_seed, 'grid_top': float(grid[-1])}
