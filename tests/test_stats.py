"""robustness/stats.py on constructed curves with known answers, and its calibration on simulated nulls."""

import numpy as np
import pytest
from scipy import stats as scipy_stats

from robustness.calibration import simulate
from robustness.stats import (check_margin, correct, difference_test, half_failure, holm_levels, model_half_failure,
                              percentile_interval, retained_area, retained_areas, retained_fraction, trend_test,
                              verdict_text)

GRID = [0.0, 0.25, 0.5, 0.75, 1.0]


def test_retained_area_of_constructed_curves():
    # bpb from 2 to a floor of 4: at 0.25 it has lost a quarter, at 0.5 half, then the floor: r = 1, .75, .5, 0, 0
    curve = [2.0, 2.5, 3.0, 4.0, 4.0]
    assert list(retained_fraction(curve, 2.0, 4.0)) == [1.0, 0.75, 0.5, 0.0, 0.0]
    # trapezoid: 0.25 x ((1 + .75) + (.75 + .5) + (.5 + 0) + (0 + 0)) / 2, over the grid's top 1
    assert retained_area(GRID, curve, 2.0, 4.0) == pytest.approx(0.25 * 3.5 / 2, abs=1e-12)
    # accuracy falls from 0.9 to chance 0.5, the same shape: the same area
    assert retained_area(GRID, [0.9, 0.8, 0.7, 0.5, 0.5], 0.9, 0.5) == pytest.approx(0.4375, abs=1e-12)
    # beyond the floor or better than intact is clipped; an overflowed loss retains nothing
    assert list(retained_fraction([2.0, 1.5, 9.0, np.inf, np.nan], 2.0, 4.0)) == [1.0, 1.0, 0.0, 0.0, 0.0]
    assert retained_area(GRID, [2.0] * 5, 2.0, 4.0) == 1.0  # loses nothing
    assert retained_area([0.0, 0.1, 0.2], [2.0, 4.0, 4.0], 2.0, 4.0) == pytest.approx(0.25)  # a noise grid's top
    # a model intact at its floor has nothing to lose: undefined, never a number
    values = np.array([[[0.5, 0.5], [0.8, 0.8]], [[0.5, 0.5], [0.7, 0.6]], [[0.5, 0.5], [0.6, 0.6]]])
    areas = retained_areas([0.0, 0.5, 1.0], values, [0.5, 0.5], higher_is_worse=False)
    assert np.isnan(areas[0]) and areas[1] == pytest.approx((1 + (0.65 - 0.5) / 0.3) / 4 + ((0.65 - 0.5) / 0.3 + 1 / 3) / 4)


def test_known_difference_and_the_test_behind_it():
    """Two models whose per-seed curves differ by a known shift of the level where they reach the floor."""
    def model(reach, seeds):
        # bpb rises linearly from 2 to the floor 4 at level `reach` (seed-specific), then stays: area = reach / 2
        grid = np.linspace(0, 1, 101)
        values = np.stack([np.minimum(2 + 2 * grid / r, 4.0) for r in reach], axis=1)[:, :, None]
        return list(grid), values, [4.0] * seeds
    grid, a, floors = model([0.5, 0.6, 0.7], 3)
    _, b, _ = model([0.3, 0.4, 0.5], 3)
    areas_a, areas_b = retained_areas(grid, a, floors, True), retained_areas(grid, b, floors, True)
    assert areas_a == pytest.approx([0.25, 0.3, 0.35], abs=1e-9) and areas_b == pytest.approx([0.15, 0.2, 0.25], abs=1e-9)
    test, reason = difference_test(areas_a, areas_b)
    assert reason is None and test['estimate'] == pytest.approx(0.1, abs=1e-9) and test['unit'] == 'training seeds'
    welch = scipy_stats.ttest_ind(areas_a, areas_b, equal_var=False)
    assert test['p'] == pytest.approx(welch.pvalue, rel=1e-9) and test['df'] == pytest.approx(4.0)
    # the half-failure level of a curve that reaches the floor at a known level: halfway there
    assert model_half_failure(grid, a, floors) == pytest.approx(0.3, abs=1e-9)
    assert half_failure(grid, a[:, 0, 0], 2.0, 4.0) == pytest.approx(0.25, abs=1e-9)
    # one trained model each: the paired draws decide, and say so
    test, _ = difference_test([0.5], [0.4], [0.50, 0.52, 0.48], [0.41, 0.40, 0.39])
    assert test['unit'] == 'draws of these two trained models' and test['estimate'] == pytest.approx(0.1)
    assert difference_test([0.5], [0.4])[1] == 'one trained model each and one draw: nothing varies'
    assert difference_test([0.5, np.nan], [0.4, 0.3])[1] == 'intact at the floor: nothing to lose'
    assert difference_test([0.5], [0.4, 0.3])[1].startswith('one side has a single training seed')


def test_trend_over_the_number_of_tasks():
    x = np.repeat([1, 3, 5], 3)
    y = 0.5 + 0.02 * x + np.tile([-0.01, 0.0, 0.01], 3)
    test, _ = trend_test(x, y, span=4)
    assert test['estimate'] == pytest.approx(0.08) and test['df'] == 7
    assert test['p'] == pytest.approx(scipy_stats.linregress(x, y).pvalue, rel=1e-9)


def test_holm_levels_and_verdicts():
    # Holm with m = 4: the smallest p at alpha/4; then alpha/3 while rejected; the first not rejected stops the rest
    assert holm_levels([0.001, 0.2, 0.015, 0.04]) == pytest.approx([0.0125, 0.025, 0.05 / 3, 0.025])
    rows = {name: {'test': {'estimate': est, 'se': 0.01, 'df': 10.0, 'unit': 'training seeds',
                            'p': 2 * scipy_stats.t.sf(abs(est) / 0.01, 10)}, 'reason': None}
            for name, est in (('clear', 0.08), ('null', 0.001), ('negative', -0.09))}
    rows['untested'] = {'test': None, 'reason': 'intact at the floor: nothing to lose'}
    assert correct(rows, margin=0.05) == 3
    assert rows['clear']['outcome'] == 'higher' and rows['negative']['outcome'] == 'lower'
    assert rows['null']['outcome'] == 'equivalent'  # +-0.001 with an SE of 0.01: inside +-0.05
    assert rows['untested']['outcome'] is None and rows['untested']['ci'] is None
    for row in (rows['clear'], rows['null'], rows['negative']):  # the interval agrees with the test at its level
        assert (row['ci'][0] > 0 or row['ci'][1] < 0) == (row['test']['p'] <= row['holm_level'])
    assert verdict_text(rows['clear'], 'a more robust', 'a less robust', 0.05) == 'a more robust'
    assert verdict_text(rows['null'], 'a', 'b', 0.05) == 'equivalent within ±0.05'
    assert verdict_text(rows['untested'], 'a', 'b', 0.05) == 'no verdict: intact at the floor: nothing to lose'
    wide = {'x': {'test': {'estimate': 0.5, 'se': 1.0, 'df': 2.0, 'unit': 'training seeds', 'p': 0.66}, 'reason': None}}
    correct(wide, margin=0.05)
    assert wide['x']['ci'] == [-1.0, 1.0] and wide['x']['outcome'] == 'inconclusive'  # clipped to what is possible
    assert percentile_interval([0.1, 0.2, 5.0], (0.0, 1.0))[1] == 1.0
    for bad in (-0.1, 1.0):
        with pytest.raises(ValueError, match='equivalence_margin: .* must lie in \\[0, 1\\)'):
            check_margin(bad)
    check_margin(0.05)


def test_identical_models_are_equivalent_with_enough_seeds():
    rng = np.random.default_rng(0)
    areas = 0.6 + 0.005 * rng.standard_normal(10)
    rows = {'same': dict(zip(('test', 'reason'), difference_test(areas, areas.copy())))}
    correct(rows, margin=0.05)
    assert rows['same']['outcome'] == 'equivalent' and rows['same']['ci'][0] > -0.05


@pytest.mark.parametrize('seeds', [2, 3, 5])
def test_calibration_on_simulated_nulls(seeds):
    """The fast version of bench/bench_calibration.py: tables of 14 rows shaped like the default's, no true
    difference. The family-wise rate of a direction verdict stays at or below 5% (with Monte-Carlo room: 60 tables
    give at most 6 such tables at the 99.5th percentile of a 5% rate), and the plain 95% interval covers the truth."""
    result = simulate(seeds, 60, np.random.default_rng(seeds))
    assert result['table'] <= 0.10 and result['row'] <= 0.02
    assert result['uncorrected coverage'] >= 0.92 and result['coverage'] >= 0.95


def test_a_clear_effect_is_found():
    result = simulate(5, 20, np.random.default_rng(7), shift=0.3)  # a's curves bend 0.3 later
    assert result['row'] - result['wrong direction'] >= 0.5 and result['wrong direction'] == 0
