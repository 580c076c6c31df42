"""robustness/stats.py on synthetic data with a known answer: an effect that exists is detected, a null effect mostly
is not, and nothing that cannot vary gets an interval."""

import numpy as np

from robustness.stats import (detectable_difference, interval, paired_two_level_bootstrap, slope, two_level_bootstrap,
                              verdict)


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
