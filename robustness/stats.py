"""How the project decides: one primary statistic per comparison, a test whose error rate holds with 2 to 5 training
seeds, and a Holm correction over the rows of a table (docs/statistics.md says why each choice).

    areas = retained_areas(grid, values, floors, higher_is_worse=True)   # values: (levels, training seeds, draws)
    row = difference_test(areas_a, areas_b)                               # Welch t over the training seeds
    rows = correct({'a - b | kind | scope': row, ...}, margin=0.05)       # Holm levels, intervals, outcomes

The primary statistic is the **retained area**: per training seed, the draws are averaged at each level, each level's
value y(p) becomes the share of the model's own range it keeps, r(p) = 1 - clip((y(p) - y(0)) / (floor - y(0)), 0, 1),
and r is integrated over the grid (trapezoid) and divided by the grid's top. It lies in [0, 1]: 1 for a model that
loses nothing, 0 for one at its floor from the first damaged level on. It is undefined for a model whose intact
score is already at its floor (nothing to lose). The training seed is the unit of replication; the draws of damage
are nested in it. With one trained model per side, only the draws vary: the test then runs over the paired draws, and
its verdict concerns those two trained models, not their recipe.

The secondary statistics (half-failure levels, the crossover, the per-level differences) are description: their
intervals are uncorrected and clipped to what is possible, and no verdict is read from them.
"""

import math

import numpy as np
from scipy import stats

from robustness.config import check

ALPHA = 0.05  # family-wise error rate of a table's verdicts
POWER = 0.8   # the power at which the detectable effect is stated
MARGIN = 0.05  # the scripts' default equivalence_margin, for a run's config.json that predates the setting
NOTHING_TO_LOSE = 'intact at the floor: nothing to lose'  # the reason a row has no verdict
# The measures of robustness a direction must hold under (docs/statistics.md), for language models and classifiers:
# retained areas against the floor (the scope zeroed; chance for a classifier) and against the untrained model,
# the mean excess loss over the grid and the mean log ratio y(p) / y(0).
LM_MEASURES = ('retained_area', 'retained_area_untrained', 'mean_excess', 'mean_log_ratio')
CLASSIFIER_MEASURES = ('retained_area', 'mean_excess', 'mean_log_ratio')
UNITS = ('byte', 'token')  # a language model's loss per UTF-8 byte of the text (bits) or per token (nats)


# ----------------------------------------------------------------------------- the primary statistic
def retained_fraction(curve, intact, floor):
    """r(p) = 1 - clip((y(p) - y(0)) / (floor - y(0)), 0, 1) of a curve y over the levels, for metrics that rise with
    damage (bpb: floor above intact) and those that fall (accuracy: floor, chance, below). A non-finite value (an
    overflowed loss) retains nothing. Undefined (NaN) when the intact score is at or beyond its floor."""
    curve = np.asarray(curve, float)
    span = np.asarray(floor, float) - np.asarray(intact, float)
    with np.errstate(invalid='ignore', divide='ignore'):
        lost = (curve - intact) / span
    lost = np.clip(np.where(np.isfinite(lost), lost, 1.0), 0.0, 1.0)
    return np.where(span != 0, 1.0 - lost, np.nan)


def retained_area(grid, curve, intact, floor):
    """The area under r(p) over the grid (grid[0] = 0), divided by the grid's top: in [0, 1]; NaN when the model has
    nothing to lose (`has_range`)."""
    grid = np.asarray(grid, float)
    return float(np.trapezoid(retained_fraction(curve, intact, floor), grid) / grid[-1])


def has_range(intact, floor, higher_is_worse):
    """Whether a model has something to lose: its intact score is strictly better than its floor."""
    return bool(floor > intact if higher_is_worse else floor < intact)


def retained_areas(grid, values, floors, higher_is_worse):
    """Per training seed: the retained area of the draw-mean curve of `values` (levels, seeds, draws; grid[0] = 0)
    against that seed's floor; NaN for a seed with nothing to lose."""
    curves = np.asarray(values, float).mean(axis=2)
    return np.array([retained_area(grid, curves[:, s], curves[0, s], floor) if
                     has_range(curves[0, s], floor, higher_is_worse) else np.nan for s, floor in enumerate(floors)])


def draw_areas(grid, values, floor, higher_is_worse):
    """One trained model (values: levels, 1 seed, draws): the retained area of each draw's curve; NaN without range."""
    values = np.asarray(values, float)[:, 0, :]
    intact = values[0, 0]
    if not has_range(intact, floor, higher_is_worse):
        return np.full(values.shape[1], np.nan)
    return np.array([retained_area(grid, values[:, d], intact, floor) for d in range(values.shape[1])])


# ----------------------------------------------------------------------------- tests
def test_result(estimate, se, df, unit):
    """A test's numbers: the estimate, its standard error and degrees of freedom, the two-sided p-value; None when
    nothing varies (no standard error)."""
    if not (np.isfinite(se) and se > 0 and df > 0):
        return None
    return {'estimate': float(estimate), 'se': float(se), 'df': float(df),
            'p': float(2 * stats.t.sf(abs(estimate) / se, df)), 'unit': unit}


def welch(a, b, unit='training seeds'):
    """Welch's t test of mean(a) - mean(b) (each at least 2 values): the training seeds of two models."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    with np.errstate(invalid='ignore', divide='ignore'):
        df = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
    return test_result(a.mean() - b.mean(), math.sqrt(va + vb), df, unit)


def one_sample(d, unit):
    """The one-sample t test of mean(d) (paired differences, at least 2)."""
    d = np.asarray(d, float)
    return test_result(d.mean(), d.std(ddof=1) / math.sqrt(len(d)), len(d) - 1, unit)


def difference_test(a, b, paired_a=None, paired_b=None):
    """The test of a - b on the retained areas: Welch over the training seeds when both models have at least 2;
    with one trained model each, a paired t over the draws (`paired_a`, `paired_b`: per-draw areas of the same
    masks), which speaks for those two models only. None, with the reason, when there is no test."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if np.isnan(a).any() or np.isnan(b).any():
        return None, NOTHING_TO_LOSE
    if len(a) >= 2 and len(b) >= 2:
        result = welch(a, b)
    elif len(a) == 1 and len(b) == 1 and paired_a is not None and len(paired_a) >= 2:
        result = one_sample(np.asarray(paired_a) - np.asarray(paired_b), 'draws of these two trained models')
    elif len(a) == 1 and len(b) == 1:
        return None, 'one trained model each and one draw: nothing varies'
    else:
        return None, 'one side has a single training seed: its seed-to-seed spread is unknown'
    return result, None if result is not None else 'nothing varies between the training seeds or draws'


def trend_test(x, y, span):
    """Least squares of y on x (independent units: one model per (x, training seed)): the change of y over `span`
    units of x along the fitted line, with its t test on n - 2 degrees of freedom."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    if np.isnan(y).any():
        return None, NOTHING_TO_LOSE
    if len(x) < 3 or np.ptp(x) == 0:
        return None, 'too few models for a trend'
    fit = stats.linregress(x, y)
    result = test_result(fit.slope * span, fit.stderr * span, len(x) - 2, 'models (x, training seed)')
    return result, None if result is not None else 'nothing varies'


# ----------------------------------------------------------------------------- a table's verdicts
def holm_levels(p_values, alpha=ALPHA):
    """Holm's step-down: the level at which each p-value is judged. The k-th smallest gets alpha / (m - k + 1) while
    every smaller one was rejected; from the first that is not, all the rest get that first one's level. A row is
    rejected exactly when its p-value is at most its level, so the intervals at these levels agree with the test."""
    order = np.argsort(p_values, kind='stable')
    m, levels, stopped = len(p_values), [None] * len(p_values), None
    for rank, i in enumerate(order):
        level = stopped if stopped is not None else alpha / (m - rank)
        if stopped is None and p_values[i] > level:
            stopped = level
        levels[i] = level
    return levels


def correct(rows, margin, bounds=(-1.0, 1.0), alpha=ALPHA):
    """Holm-correct the tests of a table's rows ({name: {'test': test_result or None, 'reason': ...}}), in place:
    each tested row gets its Holm level, its interval at that level (clipped to `bounds`, where the statistic can
    lie), the smallest effect the design detects with POWER at that level, and its outcome: 'higher' or 'lower'
    (the interval excludes 0), 'equivalent' (it lies inside +-margin), or 'inconclusive'. Untested rows keep their
    reason. Returns the number of comparisons corrected for."""
    tested = [name for name, row in rows.items() if row['test'] is not None]
    for name, level in zip(tested, holm_levels([rows[name]['test']['p'] for name in tested], alpha)):
        row, test = rows[name], rows[name]['test']
        half = stats.t.ppf(1 - level / 2, test['df']) * test['se']
        low, high = test['estimate'] - half, test['estimate'] + half
        row['holm_level'] = level
        row['ci'] = [max(low, bounds[0]), min(high, bounds[1])]
        row['detectable'] = float((stats.t.ppf(1 - level / 2, test['df']) + stats.t.ppf(POWER, test['df'])) * test['se'])
        row['outcome'] = ('higher' if low > 0 else 'lower' if high < 0 else
                          'equivalent' if -margin <= low and high <= margin else 'inconclusive')
    for row in rows.values():
        if row['test'] is None:
            row.update(holm_level=None, ci=None, detectable=None, outcome=None)
    return len(tested)


def verdict_text(row, higher, lower, margin):
    """The verdict of a corrected row in words: `higher`/`lower` for a difference, 'equivalent within +-margin',
    'inconclusive', or 'no verdict: <reason>'; a test over the draws of one model each says so."""
    if row['outcome'] is None:
        return f"no verdict: {row['reason']}"
    text = {'higher': higher, 'lower': lower, 'equivalent': f'equivalent within ±{margin:g}',
            'inconclusive': 'inconclusive'}[row['outcome']]
    return text + (' (these two trained models)' if row['test']['unit'].startswith('draws') else '')


def check_measures(measures, valid, untrained=True):
    """The declared measures: at least one, each of `valid`, the untrained floor only where untrained models are
    scored (a one-line error otherwise)."""
    check(measures, "measures: name at least one measure")
    for measure in measures:
        check(measure in valid, f"measures: unknown measure {measure!r}; valid: {', '.join(valid)}")
    check(untrained or 'retained_area_untrained' not in measures,
          "measures: retained_area_untrained needs the untrained models' scores; set untrained=True or leave it out")


def check_margin(margin, setting='equivalence_margin'):
    """The equivalence margin lies in [0, 1): the retained area and its differences span at most 1 (a one-line
    error otherwise)."""
    check(isinstance(margin, (int, float)) and 0 <= margin < 1,
          f"{setting}: {margin} must lie in [0, 1) (a difference of retained areas, which span [0, 1])")


# ----------------------------------------------------------------------------- the curves of a model
def curve_table(rows, value):
    """(levels, array (levels, training seeds, draws)) of column `value` from the tidy rows of one model under one
    damage (columns level, train_seed, repeat). A level measured once (the intact model, a deterministic kind, random
    deletion of every weight) is repeated over the draws; every other cell keeps the draws that all of them have.
    None when a (level, seed) cell is missing."""
    if rows.empty:
        return None
    grid, seeds = sorted(rows['level'].unique()), sorted(rows['train_seed'].unique())
    cells = {key: group.sort_values('repeat')[value].to_numpy(float) for key, group in rows.groupby(['level', 'train_seed'])}
    if len(cells) != len(grid) * len(seeds):
        return None
    n = min([len(values) for (level, _), values in cells.items() if level > 0 and len(values) > 1] or [1])
    return grid, np.array([[np.resize(cells[level, s][:n], n) for s in seeds] for level in grid])


def paired_resamples(A, B, resamples, rng):
    """The bootstrap behind the secondary intervals: each resample picks each model's training seeds with
    replacement, independently, and one set of draw indices for both (the same masks). Yields (seed indices of a,
    seed indices of b, draw indices)."""
    draws = A.shape[2]
    for _ in range(resamples):
        yield (rng.integers(0, A.shape[1], A.shape[1]), rng.integers(0, B.shape[1], B.shape[1]),
               rng.integers(0, draws, draws))


def plain_interval(test, bounds=(-1.0, 1.0), level=0.95):
    """The uncorrected `level` t interval of a test's estimate, clipped to `bounds`; None without a test."""
    if test is None or not np.isfinite(test['estimate']):
        return None
    half = stats.t.ppf(0.5 + level / 2, test['df']) * test['se']
    return [max(test['estimate'] - half, bounds[0]), min(test['estimate'] + half, bounds[1])]


def percentile_interval(samples, bounds, level=0.95):
    """The central percentile interval of the finite `samples`, clipped to `bounds`; None when they do not vary."""
    samples = np.asarray([s for s in samples if s is not None and np.isfinite(s)], float)
    if len(samples) == 0 or np.ptp(samples) == 0:
        return None
    tail = 100 * (1 - level) / 2
    return [max(float(np.percentile(samples, tail)), bounds[0]), min(float(np.percentile(samples, 100 - tail)), bounds[1])]


def crossing(grid, difference):
    """The first level where the curve `difference` (a - b) changes sign, by linear interpolation; None if none."""
    for i in range(len(grid) - 1):
        d0, d1 = difference[i], difference[i + 1]
        if np.isfinite(d0) and np.isfinite(d1) and d0 * d1 < 0:
            return grid[i] + (grid[i + 1] - grid[i]) * d0 / (d0 - d1)
    return None


def half_failure(grid, curve, intact, floor, fraction=0.5):
    """The first level of `grid` at which `curve` (the mean over draws at each level) has gone `fraction` of the way
    from `intact` to `floor`, linearly interpolated between the two grid levels around the crossing; None when the
    curve never gets there within the grid. An infinite value (an overflowed loss) is past the target at its own
    level, without interpolation; NaN is skipped."""
    target = intact + fraction * (floor - intact)
    sign = 1.0 if floor >= intact else -1.0
    previous = None
    for level, value in zip(grid, curve):
        if np.isinf(value) and sign * value > 0:
            return float(level)
        if np.isfinite(value) and sign * (value - target) >= 0:
            if previous is None:
                return float(level)
            (level0, value0) = previous
            return float(level0 + (level - level0) * (target - value0) / (value - value0))
        previous = (level, value) if np.isfinite(value) else previous
    return None


def model_half_failure(grid, values, floors, fraction=0.5):
    """A model's half-failure level from `values` (levels, training seeds, draws; grid[0] = 0) and each seed's floor:
    per seed, the level where its draw-mean curve crosses; then the mean over the seeds. None if any seed does not
    reach it within the grid ("not reached": a result, never a number)."""
    curves = np.asarray(values, float).mean(axis=2)
    levels = [half_failure(grid, curves[:, s], curves[0, s], floors[s], fraction) for s in range(curves.shape[1])]
    return None if any(level is None for level in levels) else float(np.mean(levels))


# ----------------------------------------------------------------------------- one comparison of two models
def compare_rows(rows_a, rows_b, value, floors, higher_is_worse, fraction, resamples, rng):
    """Compare two models under one damage from their tidy rows (columns level, train_seed, repeat, `value`) and
    their floors ({training seed: floor} of a and of b), on the levels both share (0 among them). Returns the
    primary test on the retained areas ('test', or 'reason' when there is none; `correct` then decides) and the
    description: retained areas per seed, per-level retained fractions, the crossover and the half-failure levels.
    None when there is nothing to compare (a model missing, an incomplete grid, no intact level, a floor missing)."""
    ta, tb = curve_table(rows_a, value), curve_table(rows_b, value)
    if ta is None or tb is None:
        return None
    grid = sorted(set(ta[0]) & set(tb[0]))
    seeds = [sorted(rows['train_seed'].unique()) for rows in (rows_a, rows_b)]
    if grid[0] != 0.0 or len(grid) < 2 or any(seed not in floor for floor, names in zip(floors, seeds) for seed in names):
        return None
    n = min(ta[1].shape[2], tb[1].shape[2])  # the same draw indices pair the same damage
    A, B = (values[[levels.index(level) for level in grid]][..., :n] for levels, values in (ta, tb))
    floors_a, floors_b = (np.array([floor[seed] for seed in names], float) for floor, names in zip(floors, seeds))
    areas_a, areas_b = retained_areas(grid, A, floors_a, higher_is_worse), retained_areas(grid, B, floors_b, higher_is_worse)
    single = A.shape[1] == 1 and B.shape[1] == 1
    per_draw = [draw_areas(grid, X, f[0], higher_is_worse) for X, f in ((A, floors_a), (B, floors_b))] if single else [None, None]
    test, reason = difference_test(areas_a, areas_b, *per_draw)
    fractions = [retained_fraction(X.mean(axis=2), X.mean(axis=2)[0], f) for X, f in ((A, floors_a), (B, floors_b))]
    top = float(grid[-1])
    crossings = [crossing(grid, A[:, sa][:, :, d].mean(axis=(1, 2)) - B[:, sb][:, :, d].mean(axis=(1, 2)))
                 for sa, sb, d in paired_resamples(A, B, resamples, rng)]
    point = crossing(grid, A.mean(axis=(1, 2)) - B.mean(axis=(1, 2)))
    return {
        'levels': list(grid), 'repeats': int(n), 'training_seeds': [int(A.shape[1]), int(B.shape[1])],
        'mean_a': [float(x) for x in A.mean(axis=(1, 2))], 'mean_b': [float(x) for x in B.mean(axis=(1, 2))],
        'retained_area_a': [float(x) for x in areas_a], 'retained_area_b': [float(x) for x in areas_b],
        'test': test, 'reason': reason,
        'retained_fraction_difference': [float(x) for x in np.nanmean(fractions[0], 1) - np.nanmean(fractions[1], 1)],
        'retained_fraction_difference_ci95': [plain_interval(welch(fa, fb)) if len(fa) > 1 and len(fb) > 1 else None
                                              for fa, fb in zip(*fractions)],
        'crossover': point,
        'crossover_ci95': percentile_interval(crossings, (0.0, top)) if point is not None else None,
        'crossover_fraction_of_resamples': sum(c is not None for c in crossings) / resamples,
        'half_failure_level': compare_half_failure(grid, A, B, floors_a, floors_b, resamples, rng, fraction),
        'non_finite_values': int((~np.isfinite(A)).sum() + (~np.isfinite(B)).sum()),
    }


def compare_half_failure(grid, A, B, floors_a, floors_b, resamples, rng, fraction=0.5):
    """Half-failure levels of models a and b and the difference a - b (description), with a 95% interval from
    `paired_resamples`. A resample in which either model does not reach half-failure gives no difference; the share
    that give one is reported, and there is no interval unless 95% do. With few training seeds the interval is the
    difference +- t(0.975, n - 1) x the bootstrap SE x sqrt(n / (n - 1)) (n the smaller number of seeds: the
    percentile interval is too narrow there), clipped to [-top, top] of the grid."""
    a, b = model_half_failure(grid, A, floors_a, fraction), model_half_failure(grid, B, floors_b, fraction)
    differences = []
    for sa, sb, d in paired_resamples(A, B, resamples, rng):
        ha = model_half_failure(grid, A[:, sa][:, :, d], floors_a[sa], fraction)
        hb = model_half_failure(grid, B[:, sb][:, :, d], floors_b[sb], fraction)
        if ha is not None and hb is not None:
            differences.append(ha - hb)
    share, top = len(differences) / resamples, float(grid[-1])
    difference = None if a is None or b is None else a - b
    ci, seeds = None, min(A.shape[1], B.shape[1])
    if difference is not None and share >= 0.95 and np.ptp(differences) > 0:
        if seeds >= 2:
            half = stats.t.ppf(0.975, seeds - 1) * np.std(differences) * np.sqrt(seeds / (seeds - 1))
            ci = [max(difference - half, -top), min(difference + half, top)]
        else:  # one model each: only the draws vary, and there are many
            ci = percentile_interval(differences, (-top, top))
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
