"""robustness/stats.py on synthetic data with a known answer: an effect that exists is detected, a null effect mostly
is not, and nothing that cannot vary gets an interval."""

import numpy as np
import pytest

from robustness.stats import (compare_half_failure, detectable_difference, half_failure, interval, model_half_failure,
                              paired_two_level_bootstrap, slope, two_level_bootstrap, verdict)


def test_two_level_bootstrap_and_slope():
    rng = np.random.default_rng(0)
    # A slope of 0.1 per group, training-seed offsets and draw noise: the interval covers 0.1 and not 0.
    groups = np.arange(5)
    values = 0.1 * groups[:, None, None] + rng.normal(0, 0.05, (5, 4, 1)) + rng.normal(0, 0.05, (5, 4, 6))
    boot = two_level_bootstrap(values, 2000, rng)
    assert boot.shape == (2000, 5)
    assert np.allclose(boot.mean(0), values.mean(axis=(1, 2)), atol=0.02)
    ci = interval(slope(groups, boot))
    assert ci[0] < 0.1 < ci[1] and verdict(ci, 'rises', 'falls') == 'rises'
    null = rng.normal(0, 0.05, (5, 4, 6))
    found = sum(verdict(interval(slope(groups, two_level_bootstrap(null + rng.normal(0, 0.05, (5, 4, 6)), 400, rng))),
                        'rises', 'falls') != 'no difference detectable' for _ in range(40))
    assert found <= 6  # a null effect is mostly not "detected" (5% expected)
    assert interval(two_level_bootstrap(np.ones((3, 1, 1)), 100, rng)[:, 0]) is None  # nothing to resample


def test_paired_bootstrap_detects_a_real_difference_and_mostly_not_a_null_one():
    rng = np.random.default_rng(1)

    def experiment(effect):
        """(levels=3, seeds=3, draws=4) for two models: training-seed offsets, paired draw noise shared by both."""
        shared = rng.normal(0, 0.02, (3, 1, 4))  # the same masks for both models
        a = 1 + shared + rng.normal(0, 0.02, (3, 3, 1)) + rng.normal(0, 0.01, (3, 3, 4)) + effect
        b = 1 + shared + rng.normal(0, 0.02, (3, 3, 1)) + rng.normal(0, 0.01, (3, 3, 4))
        boot_a, boot_b = paired_two_level_bootstrap(a, b, 1000, rng)
        return (boot_a - boot_b).mean(1)

    real = experiment(0.1)
    assert interval(real)[0] > 0 and verdict(interval(real), 'worse', 'better') == 'worse'
    assert 0 < detectable_difference(real) < 0.1
    false_alarms = sum(verdict(interval(experiment(0.0)), 'worse', 'better') != 'no difference detectable'
                       for _ in range(40))
    assert false_alarms <= 6  # about 5% expected
    a, b = paired_two_level_bootstrap(np.ones((2, 1, 1)), np.ones((2, 1, 1)), 50, rng)
    assert interval((a - b).mean(1)) is None  # one seed, one draw: nothing to resample, no zero-width interval


def test_half_failure_on_known_crossings():
    grid = [0.0, 0.2, 0.4, 0.6]
    # bpb rises from 1 to a floor of 3: the target 2 lies between 1.5 (0.2) and 2.5 (0.4), exactly halfway: 0.3
    assert half_failure(grid, [1.0, 1.5, 2.5, 2.9], 1.0, 3.0) == pytest.approx(0.3, abs=1e-12)
    # accuracy falls from 0.9 to chance 0.5: the target 0.7 is reached exactly at a grid level
    assert half_failure(grid, [0.9, 0.8, 0.7, 0.6], 0.9, 0.5) == pytest.approx(0.4, abs=1e-12)
    assert half_failure(grid, [0.9, 0.8, 0.6, 0.5], 0.9, 0.5, fraction=0.25) == pytest.approx(0.2, abs=1e-12)
    assert half_failure(grid, [1.0, 1.1, 1.2, 1.3], 1.0, 3.0) is None  # never crosses within the grid
    assert half_failure(grid, [1.0, np.inf, np.inf, np.inf], 1.0, 3.0) == pytest.approx(0.2)  # inf is past any target


def test_model_half_failure_is_the_mean_over_training_seeds():
    grid = [0.0, 0.5, 1.0]
    # two seeds, two draws each: seed 0 crosses at 0.5 exactly, seed 1 at 0.75
    values = np.array([[[1, 1], [1, 1]], [[2, 2], [1.5, 1.5]], [[3, 3], [2, 2]]], float)
    assert model_half_failure(grid, values, [3.0, 2.5]) == pytest.approx((0.5 + 0.75) / 2)
    assert model_half_failure(grid, values, [3.0, 9.0]) is None  # seed 1 never gets halfway to 9


def synthetic_model(rng, shift, seeds=3, draws=6, grid=(0.0, 0.2, 0.4, 0.6, 0.8, 1.0)):
    """bpb curves rising from 1 to a floor of 3, with the rise delayed by `shift`, seed and draw noise."""
    grid = np.array(grid)
    values = np.empty((len(grid), seeds, draws))
    for s in range(seeds):
        offset = rng.normal(0, 0.02)
        for d in range(draws):
            values[:, s, d] = 1 + 2 / (1 + np.exp(-(grid - 0.5 - shift - offset) * 12)) + rng.normal(0, 0.02, len(grid))
    values[0] = values[0, :, :1]
    return list(grid), values, [3.0] * seeds


def test_half_failure_difference_interval_covers_a_null_and_excludes_an_effect():
    """3 training seeds, as the offline default has."""
    rng = np.random.default_rng(0)
    covered = 0
    for trial in range(40):
        grid, A, floors = synthetic_model(rng, 0.0)
        _, B, _ = synthetic_model(rng, 0.0)
        result = compare_half_failure(grid, A, B, floors, floors, 300, rng)
        ci = result['difference_ci95']
        covered += ci is not None and ci[0] <= 0 <= ci[1]
    assert covered >= 36  # at least 90% of 40
    grid, A, floors = synthetic_model(rng, 0.15)
    _, B, _ = synthetic_model(rng, 0.0)  # a clear effect: the rise delayed by 0.15
    result = compare_half_failure(grid, A, B, floors, floors, 300, rng)
    assert result['difference'] == pytest.approx(0.15, abs=0.05) and result['difference_ci95'][0] > 0
