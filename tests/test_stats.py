"""robustness/stats.py on constructed curves with known answers, the decision rule on rows built by hand, and its
calibration on simulated nulls, clean and confounded."""

import math
from dataclasses import replace

import numpy as np
import pytest
from scipy import stats as scipy_stats

from robustness.calibration import simulate
from robustness.analysis import decide_table, pair_wording
from robustness.comparison import Comparison
from robustness.stats import (LM_DECISIVE, LM_MEASURES, MEASURES, POWER, Curves, check_margin, check_measures, compare, decide, decompose, detectable_difference,
                              detectable_effect,
                              difference_test,
                              half_failure, half_failure_levels, holm_levels, intersection_p, mean_excess,
                              mean_log_ratio, percentile_interval, retained_area, retained_fraction, trend_test)

GRID = [0.0, 0.25, 0.5, 0.75, 1.0]


def test_retained_area_of_constructed_curves():
    # bpb from 2 to a floor of 4: at 0.25 it has lost a quarter, at 0.5 half, then the floor: r = 1, .75, .5, 0, 0
    curve = [2.0, 2.5, 3.0, 4.0, 4.0]
    assert list(retained_fraction(curve, 2.0, 4.0)) == [1.0, 0.75, 0.5, 0.0, 0.0]
    # trapezoid: 0.25 x ((1 + .75) + (.75 + .5) + (.5 + 0) + (0 + 0)) / 2, over the grid's top 1
    assert retained_area(GRID, curve, 2.0, 4.0) == pytest.approx(0.25 * 3.5 / 2, abs=1e-12)
    # accuracy falls from 0.9 to chance 0.5, the same shape: the same area
    assert retained_area(GRID, [0.9, 0.8, 0.7, 0.5, 0.5], 0.9, 0.5, higher_is_worse=False) == pytest.approx(0.4375)
    # beyond the floor or better than intact is clipped; an overflowed loss retains nothing
    assert list(retained_fraction([2.0, 1.5, 9.0, np.inf, np.nan], 2.0, 4.0)) == [1.0, 1.0, 0.0, 0.0, 0.0]
    assert retained_area(GRID, [2.0] * 5, 2.0, 4.0) == 1.0  # loses nothing
    assert retained_area([0.0, 0.1, 0.2], [2.0, 4.0, 4.0], 2.0, 4.0) == pytest.approx(0.25)  # a noise grid's top
    # a model intact at its floor has nothing to lose: undefined, never a number
    values = np.array([[[0.5, 0.5], [0.8, 0.8]], [[0.5, 0.5], [0.7, 0.6]], [[0.5, 0.5], [0.6, 0.6]]])
    areas = Curves([0.0, 0.5, 1.0], values, {'retained_area': [0.5, 0.5]}, False).per_seed(MEASURES['retained_area'])
    assert np.isnan(areas[0]) and areas[1] == pytest.approx((1 + (0.65 - 0.5) / 0.3) / 4 + ((0.65 - 0.5) / 0.3 + 1 / 3) / 4)


def test_the_losses_by_hand_and_their_units():
    curve = np.array([2.0, 2.5, 3.0, 4.0, 4.0])
    # the mean over the grid of y(p) - y(0): trapezoid of 0, .5, 1, 2, 2 with steps of 0.25
    assert mean_excess(GRID, curve, 2.0) == pytest.approx(0.25 * (0.5 + 1.5 + 3 + 4) / 2)
    assert mean_log_ratio(GRID, curve, 2.0) == pytest.approx(
        0.25 * sum(math.log(x / 2) + math.log(y / 2) for x, y in zip(curve, curve[1:])) / 2)
    assert mean_excess(GRID, [0.9, 0.8, 0.7, 0.5, 0.5], 0.9, higher_is_worse=False) > 0  # accuracy lost is a loss
    # per token is per byte x ln 2 x bytes per token: the retained areas and the log ratio do not change with the
    # unit; the excess scales by the constant
    rng = np.random.default_rng(0)
    values = np.sort(2 + rng.random((5, 3, 2)), axis=0)
    values[0] = values[0, :, :1]
    floors = {'retained_area': [5.0, 5.0, 5.0], 'retained_area_untrained': [6.0, 6.0, 6.0]}
    per_byte = Curves(GRID, values, floors, True)
    scale = math.log(2) * 3.4
    per_token = Curves(GRID, values * scale, {k: np.array(v) * scale for k, v in floors.items()}, True)
    for name in ('retained_area', 'retained_area_untrained', 'mean_log_ratio'):
        assert per_token.per_seed(MEASURES[name]) == pytest.approx(per_byte.per_seed(MEASURES[name]))
    assert per_token.per_seed(MEASURES['mean_excess']) == pytest.approx(scale * per_byte.per_seed(MEASURES['mean_excess']))


def test_known_difference_and_the_test_behind_it():
    """Two models whose per-seed curves differ by a known shift of the level where they reach the floor."""
    def model(reach):
        # bpb rises linearly from 2 to the floor 4 at level `reach` (seed-specific), then stays: area = reach / 2
        grid = np.linspace(0, 1, 101)
        values = np.stack([np.minimum(2 + 2 * grid / r, 4.0) for r in reach], axis=1)[:, :, None]
        return Curves(list(grid), values, {'retained_area': [4.0] * len(reach)}, True)
    a, b = model([0.5, 0.6, 0.7]), model([0.3, 0.4, 0.5])
    areas_a, areas_b = (m.per_seed(MEASURES['retained_area']) for m in (a, b))
    assert areas_a == pytest.approx([0.25, 0.3, 0.35], abs=1e-9) and areas_b == pytest.approx([0.15, 0.2, 0.25], abs=1e-9)
    test, reason = difference_test(areas_a, areas_b)
    assert reason is None and test['estimate'] == pytest.approx(0.1, abs=1e-9) and test['over'] == 'training seeds'
    welch = scipy_stats.ttest_ind(areas_a, areas_b, equal_var=False)
    assert test['p'] == pytest.approx(welch.pvalue, rel=1e-9) and test['df'] == pytest.approx(4.0)
    # compare orients the losses: a loses less, so b - a is positive
    found = compare(a, b, ['retained_area', 'mean_excess'], 0.05, 0.05)
    assert found['retained_area']['test']['estimate'] == pytest.approx(0.1, abs=1e-9)
    excess = [m.per_seed(MEASURES['mean_excess']).mean() for m in (a, b)]
    assert found['mean_excess']['test']['estimate'] == pytest.approx(excess[1] - excess[0])
    assert found['mean_excess']['margin'] == pytest.approx(0.05 * 2.0)  # relative to the intact score
    # the half-failure level of a curve that reaches the floor at a known level: halfway there
    assert half_failure_levels(a.grid, a.values, [4.0] * 3)[1] == pytest.approx(0.3, abs=1e-9)
    assert half_failure(a.grid, a.values[:, 0, 0], 2.0, 4.0) == pytest.approx(0.25, abs=1e-9)
    # one trained model each: the paired draws decide, and say so
    test, _ = difference_test([0.5], [0.4], [0.50, 0.52, 0.48], [0.41, 0.40, 0.39])
    assert test['over'] == 'draws of these two trained models' and test['estimate'] == pytest.approx(0.1)
    assert difference_test([0.5], [0.4])[1] == 'one trained model each and one draw: nothing varies'
    assert difference_test([0.5, np.nan], [0.4, 0.3])[1] == 'intact at the floor: nothing to lose'
    assert difference_test([0.5], [0.4, 0.3])[1].startswith('one side has a single training seed')


def test_a_batch_of_curves_gives_each_curve_its_own_numbers_exactly():
    """The measures and the half-failure level take many curves at once (levels first): the numbers are those of
    the curves one at a time, bit for bit, with overflowed, missing and never-reached curves among them."""
    rng = np.random.default_rng(3)
    grid = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]  # ten intervals: numpy sums them pairwise
    curves = 2.0 + np.cumsum(rng.uniform(0, 0.4, (len(grid), 40)), axis=0)
    curves[0] = 2.0
    curves[3, 1], curves[5, 2], curves[2:, 3], curves[4, 4] = np.inf, np.nan, 2.0, -np.inf
    intact, floors = curves[0], rng.uniform(1.5, 5.0, 40)
    floors[5] = np.nan
    for measure in MEASURES.values():
        one_at_a_time = [measure.value(grid, curves[:, j], intact[j], floors[j]) for j in range(40)]
        np.testing.assert_array_equal(measure.value(grid, curves, intact, floors), one_at_a_time)
    levels = half_failure(grid, curves, intact, floors)
    assert levels == [half_failure(grid, curves[:, j], intact[j], floors[j]) for j in range(40)]
    assert None in levels and levels[1] is not None  # some never get there; the overflow does


@pytest.mark.parametrize('df,level', [(2, 0.05), (2, 0.0036), (4.0, 0.05), (7.3, 0.01), (18, 0.0036)])
def test_the_detectable_effect_is_detected_with_the_stated_power(df, level):
    """By simulation, independent of the integral behind it: a true difference of `detectable_effect` standard errors,
    tested as t = (difference + Z) / (se * S) with S^2 ~ chi2(df) / df, is rejected at `level` in POWER of draws."""
    effect = detectable_effect(df, level)
    rng = np.random.default_rng(0)
    draws = 400_000
    t = (effect + rng.standard_normal(draws)) / np.sqrt(rng.chisquare(df, draws) / df)
    rejected = np.mean(np.abs(t) > scipy_stats.t.ppf(1 - level / 2, df))
    assert rejected == pytest.approx(POWER, abs=4 * math.sqrt(POWER * (1 - POWER) / draws))
    # at the textbook t_crit + t_power it would have less power than claimed where the degrees of freedom are few
    assert effect >= scipy_stats.t.ppf(1 - level / 2, df) + scipy_stats.t.ppf(POWER, df) - 1e-9


def test_a_rows_detectable_effect_is_its_headline_tests_at_its_holm_level():
    rng = np.random.default_rng(1)
    rows = {f'row {i}': compare(*(Curves(GRID, np.stack([np.linspace(2, 2 + rng.uniform(1, 2), 5) for _ in range(3)],
                                                         axis=1)[:, :, None], {'retained_area': [4.0] * 3}, True)
                                  for _ in range(2)), ['retained_area'], 0.05, 0.05) for i in range(3)}
    rows = decide([Comparison(measures=measures, decisive=('retained_area',)) for measures in rows.values()])
    for row in rows:
        test = row.measures['retained_area']['test']
        assert detectable_difference(row) == pytest.approx(detectable_effect(test['df'], row.holm_level) * test['se'])


def test_trend_over_the_number_of_tasks():
    x = np.repeat([1, 3, 5], 3)
    y = 0.5 + 0.02 * x + np.tile([-0.01, 0.0, 0.01], 3)
    test, _ = trend_test(x, y, span=4)
    assert test['estimate'] == pytest.approx(0.08) and test['df'] == 7
    assert test['p'] == pytest.approx(scipy_stats.linregress(x, y).pvalue, rel=1e-9)


def entry(estimate, se=0.01, margin=0.05, df=10.0):
    """A measure's entry of a row, built by hand."""
    return {'available': True, 'test': {'estimate': estimate, 'se': se, 'df': df, 'over': 'training seeds',
                                        'p': 2 * scipy_stats.t.sf(abs(estimate) / se, df)},
            'reason': None, 'margin': margin, 'bounds': (-1.0, 1.0)}


def test_holm_levels_and_the_intersection_union_rule():
    # Holm with m = 4: the smallest p at alpha/4; then alpha/3 while rejected; the first not rejected stops the rest
    assert holm_levels([0.001, 0.2, 0.015, 0.04]) == pytest.approx([0.0125, 0.025, 0.05 / 3, 0.025])
    # the row's p: for each direction the largest one-sided p, twice the smaller direction's
    tests = [entry(0.08)['test'], entry(0.03)['test']]
    assert intersection_p(tests) == pytest.approx(2 * scipy_stats.t.sf(3.0, 10))
    rows = {'clear': {'measures': {'m1': entry(0.08), 'm2': entry(0.09)}},
            'split': {'measures': {'m1': entry(0.08), 'm2': entry(-0.001)}},       # one finds it, one does not
            'opposite': {'measures': {'m1': entry(0.09), 'm2': entry(-0.09)}},
            'same': {'measures': {'m1': entry(0.001), 'm2': entry(-0.001)}},
            'small': {'measures': {'m1': entry(0.02, se=0.002), 'm2': entry(0.02, se=0.002)}},  # inside both margins
            'negative': {'measures': {'m1': entry(-0.09), 'm2': entry(-0.1)}},
            'untested': {'measures': {'m1': entry(0.1), 'm2': {'available': True, 'test': None, 'margin': 0.05,
                                                               'bounds': None, 'reason': 'nothing varies'}}},
            'old run': {'measures': {'m1': entry(0.1, se=0.001), 'm2': {'available': False, 'test': None, 'margin': 0.05,
                                                                        'bounds': None, 'reason': 'not measured'}}}}
    given = [Comparison(a=name, measures=row['measures'], decisive=('m1', 'm2')) for name, row in rows.items()]
    decided = {row.a: row for row in decide(given)}
    assert sum(row.holm_level is not None for row in decided.values()) == 7
    outcomes = {name: row.outcome for name, row in decided.items()}
    assert outcomes == {'clear': 'higher', 'split': 'depends on the measure', 'opposite': 'depends on the measure',
                        'same': 'equivalent', 'small': 'within the margin', 'negative': 'lower',
                        'untested': 'no verdict', 'old run': 'higher'}
    assert decided['untested'].reason == 'nothing varies' and decided['old run'].unavailable == ('m2',)
    for row in decided.values():  # a direction exactly where every decisive interval excludes 0 on one side
        if row.outcome != 'no verdict':
            assert (row.outcome in ('higher', 'lower', 'within the margin')) == (row.p <= row.holm_level)
            assert row.estimate == row.measures['m1']['test']['estimate'] and row.statistic == 'm1'
    # a new record: the rows given are unchanged (no interval, no outcome)
    assert all(row.outcome is None and 'ci' not in row.measures['m1'] for row in given)
    (wide,) = decide([Comparison(measures={'m1': entry(0.5, se=1.0, df=2.0)}, decisive=('m1',))])
    assert wide.ci == [-1.0, 1.0] and wide.outcome == 'inconclusive'  # clipped to what is possible
    assert percentile_interval([0.1, 0.2, 5.0], (0.0, 1.0))[1] == 1.0


def test_bad_margins_and_measures_are_one_line_errors():
    for bad in (-0.1, 1.0):
        with pytest.raises(ValueError, match='equivalence_margin: .* must lie in \\[0, 1\\)'):
            check_margin(bad)
    check_margin(0.05)
    with pytest.raises(ValueError, match="measures: unknown measure 'area'"):
        check_measures(['area'], MEASURES)
    with pytest.raises(ValueError, match='measures: retained_area_untrained needs'):
        check_measures(['retained_area_untrained'], MEASURES, untrained=False)


def test_identical_models_are_equivalent_with_enough_seeds():
    rng = np.random.default_rng(0)
    values = np.sort(2 + 0.3 * rng.random((5, 10, 1)), axis=0) + 0.002 * rng.standard_normal((5, 10, 1))
    values[0] = values[0].mean()
    a = Curves(GRID, values, {'retained_area': [4.0] * 10}, True)
    (same,) = decide([Comparison(measures=compare(a, Curves(GRID, values.copy(), a.floors, True),
                                                  ['retained_area', 'mean_excess'], 0.05, 0.05),
                                 decisive=('retained_area', 'mean_excess'))])
    assert same.outcome == 'equivalent' and same.ci[0] > -0.05


@pytest.mark.parametrize('family', ['clean', 'floors', 'intact', 'tokenizer'])
def test_calibration_on_simulated_nulls(family):
    """The fast version of bench/bench_calibration.py: tables of 14 rows shaped like the default's, both models'
    damaged curves from one distribution, the second carrying a confound. The family-wise rate of a direction
    verdict stays at or below 5% (with Monte-Carlo room: 40 tables give at most 5 such tables at the 99.5th
    percentile of a 5% rate), and the headline's corrected interval covers its truth."""
    result = simulate(3, 40, np.random.default_rng(3), family=family)
    assert result['table'] <= 0.125 and result['row'] <= 0.02
    assert result['uncorrected coverage'] >= 0.9 and result['coverage'] >= 0.95


def test_calibration_on_paired_nulls():
    """Models that share most of a training seed's effect, tested paired over the seeds (the declared rule for a
    design that pairs them): the family-wise rate and the coverage hold as for Welch."""
    result = simulate(3, 40, np.random.default_rng(4), shared=0.8, paired=True)
    assert result['table'] <= 0.125 and result['row'] <= 0.02
    assert result['uncorrected coverage'] >= 0.9 and result['coverage'] >= 0.95


def test_a_confound_fools_one_measure_and_not_the_rule():
    """Unequal floors with the same damaged curves: the retained area against the scope zeroed alone says "b more
    robust" in most tables; the rule, with the declared decisive measures or with every measure, in none."""
    one = simulate(5, 15, np.random.default_rng(4), family='floors', measures=['retained_area'])
    declared = simulate(5, 15, np.random.default_rng(4), family='floors')
    every = simulate(5, 15, np.random.default_rng(4), family='floors', measures=LM_MEASURES)
    assert one['table'] >= 0.8 and declared['table'] == 0.0 and every['table'] == 0.0


def test_the_simulated_positive_control_is_found_by_the_declared_measures_only():
    """Model a loses 60% less at every level and the same share of its own (smaller) range, as the dropout models do:
    the declared decisive measures find it in many rows, never the wrong way; with the retained area against the own
    floor decisive too (the rule before 2026-12-07) the share of the range, blind to it, blocks nearly every row."""
    declared = simulate(5, 20, np.random.default_rng(8), keep=0.4)
    every = simulate(5, 20, np.random.default_rng(8), keep=0.4, measures=LM_MEASURES)
    assert declared['row'] - declared['wrong direction'] >= 0.3 and declared['wrong direction'] == 0
    assert every['row'] <= 0.05


def test_a_clear_effect_is_found():
    result = simulate(5, 20, np.random.default_rng(7), shift=0.3)  # a's curves bend 0.3 later
    assert result['row'] - result['wrong direction'] >= 0.3 and result['wrong direction'] == 0


def test_the_decomposition_of_share_and_range():
    """Two models that lose the same share of ranges of different size: the range term is the whole difference of
    their mean excess, the share term nothing; and the split is exact in general."""
    grid = [0.0, 0.5, 1.0]
    def model(intact, span, share):  # y rises linearly to `share` of the way to the floor at the top level
        values = np.stack([[intact, intact + span * share, intact + 2 * span * share]] * 3, axis=1)[:, :, None]
        return Curves(grid, values, {'retained_area': [intact + span] * 3}, True)
    a, b = model(2.0, 1.0, 0.2), model(2.0, 1.5, 0.2)
    found = decompose(a, b)
    assert found['share_lost'] == pytest.approx([0.2, 0.2]) and found['range'] == pytest.approx([1.0, 1.5])
    excess = [m.per_seed(MEASURES['mean_excess']).mean() for m in (a, b)]
    assert found['share_term'] == pytest.approx(0) and found['range_term'] == pytest.approx(excess[1] - excess[0])
    c = model(1.8, 0.7, 0.3)
    found = decompose(a, c)
    excess = [m.per_seed(MEASURES['mean_excess']).mean() for m in (a, c)]
    assert found['share_term'] + found['range_term'] == pytest.approx(excess[1] - excess[0])
    assert decompose(a, Curves(grid, a.values, {}, True)) is None  # no floor, no range


@pytest.mark.parametrize('paired', [False, True])
def test_the_rules_power_against_the_noncentral_t(paired):
    """One decisive measure: the rule's power by parametric bootstrap equals the power of its test computed another
    way: paired, by quadrature over the noncentral t; Welch, by scipy's ttest_ind on experiments simulated here."""
    from robustness.stats import rule_power, t_test_power
    rng = np.random.default_rng(5)
    a = list(rng.normal(0.5, 0.02, 5))
    b = list(rng.normal(0.5, 0.02, 5))
    if paired:
        d = np.subtract(a, b)
        test = {'over': 'training seeds (paired)', 'se': d.std(ddof=1) / math.sqrt(5), 'df': 4}
    else:
        sd = math.sqrt((np.var(a, ddof=1) + np.var(b, ddof=1)) / 2)
        test = {'over': 'training seeds', 'se': sd * math.sqrt(2 / 5), 'df': 8}
    row = Comparison(holm_level=0.01, decided_by=('retained_area',),
                     measures={'retained_area': {'measure': 'retained_area', 'test': test, 'a': a, 'b': b}})
    power = rule_power(row, differences=(0.02, 0.04), simulations=20000)
    for difference, found in power.items():
        if paired:
            expected = t_test_power(difference / test['se'], test['df'], 0.01)
        else:
            sims = np.random.default_rng(6)
            x = sims.normal(difference, np.std(a, ddof=1), (20000, 5))
            y = sims.normal(0.0, np.std(b, ddof=1), (20000, 5))
            welch = scipy_stats.ttest_ind(x, y, axis=1, equal_var=False, alternative='greater')
            expected = float(np.mean(2 * welch.pvalue <= 0.01))
        assert found == pytest.approx(expected, abs=0.02), (difference, found, expected)
    assert rule_power(replace(row, holm_level=None)) is None


def test_a_direction_says_the_share_and_the_range_beside_it():
    """The positive control's shape: a loses the same share of a range half as large (it depends less on the scope,
    so its scope-zeroed floor is nearer too). The declared measures find a more robust; the own-floor share, reported
    and blind to it, is explained in the verdict: the same share of a smaller range."""
    rng, grid, seeds = np.random.default_rng(2), [0.0, 0.5, 1.0], 5
    def model(span):
        intact = 2.0 + 0.01 * rng.standard_normal(seeds)
        values = np.stack([intact, intact + 0.4 * span, intact + 0.8 * span])[:, :, None]
        values = values + 0.005 * rng.standard_normal(values.shape)
        values[0] = intact[:, None]
        return Curves(grid, values, {'retained_area': intact + span, 'retained_area_untrained': [6.0] * seeds}, True)
    a, b = model(0.5), model(1.0)
    (row,), _ = decide_table([Comparison(a='a', b='b', kind='random_deletion', scope='attn', decisive=LM_DECISIVE,
                                         measures=compare(a, b, LM_MEASURES, 0.05, 0.05),
                                         described={'decomposition': decompose(a, b)})], pair_wording)
    assert row.outcome == 'higher' and row.measures['retained_area']['sign'] == '0'
    assert row.verdict.startswith('a more robust than b: a loses about the same share (0.40')
    assert 'of a 0.50x smaller range (0.500 against 1.000' in row.verdict
