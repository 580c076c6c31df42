"""How the project decides (docs/statistics.md says why each choice): robustness measured several ways, one test per
measure whose error rate holds with 2 to 5 training seeds, a direction claimed only where every declared measure
finds it (an intersection-union test), and Holm's correction over the rows of a table.

    a = Curves(grid, values_a, {'retained_area': zeroed_a, 'retained_area_untrained': untrained_a}, True)
    row = Comparison(a='bilingual', b='monolingual', kind='random_deletion', scope='attn', decisive=LM_DECISIVE,
                     measures=compare(a, b, LM_MEASURES, equivalence_margin, relative_margin))
    decided = decide([row, ...])          # new records: Holm levels, every measure's interval, the outcome

A model's curves under one damage are `values` (levels, training seeds, draws) of a score y (bits per byte, loss
per token, accuracy); grid[0] = 0 is the intact model. Per training seed the draws are averaged at each level, giving
y(p), and each measure (MEASURES) reduces y to one number, integrated over the grid (trapezoid) and divided by its top:

- retained_area: the share of its range from intact to a floor that the model keeps,
  r(p) = 1 - clip((y(p) - y(0)) / (floor - y(0)), 0, 1): in [0, 1], 1 for a model that loses nothing. The floor is
  the score with every weight in scope zeroed (a classifier's: chance, the best constant predictor); undefined for a
  model whose intact score is at its floor (nothing to lose);
- retained_area_untrained: the same against the untrained model of the same architecture and tokenizer, a floor
  that does not depend on how the trained model fails;
- mean_excess: the mean loss of score, y(p) - y(0) (bits per byte, nats per token, accuracy points lost);
- mean_log_ratio: the mean log(y(p) / y(0)) (for accuracy log(y(0) / y(p))), the pruning literature's relative
  degradation; it does not depend on the unit.

Each comparison's difference is oriented so that a positive value says "a more robust than b": a - b for the retained
areas, b - a for the losses. The training seed is the unit of replication; the draws of damage are nested in it.
With one trained model per side, only the draws vary: the test then runs over the paired draws, and its verdict
concerns those two trained models, not their recipe.

The secondary statistics (half-failure levels, the crossover, the per-level differences) are description: their
intervals are uncorrected and clipped to what is possible, and no verdict is read from them.
"""

import math
from dataclasses import dataclass, replace

import numpy as np
from scipy import special, stats
from scipy.optimize import brentq

from robustness.config import check

ALPHA = 0.05  # family-wise error rate of a table's verdicts
POWER = 0.8   # the power at which the detectable effect (a row's headline measure's) is stated
MARGIN = 0.05  # the scripts' default equivalence_margin, for a run's config.json that predates the setting
RELATIVE_MARGIN = 0.05  # the scripts' default relative_margin, likewise
MATCHED_TOLERANCE = 0.005  # test_gpt2.py's default matched_tolerance, likewise
NOTHING_TO_LOSE = 'intact at the floor: nothing to lose'  # the reason a row has no verdict
OUTCOMES = ('higher', 'lower', 'equivalent', 'within the margin', 'depends on the measure', 'inconclusive',
            'no verdict')
# The measures of robustness a direction must hold under, for language models and classifiers. A classifier's floor,
# chance, does not depend on the model: its retained area is the model-independent one already.
LM_MEASURES = ('retained_area', 'retained_area_untrained', 'mean_excess', 'mean_log_ratio')
# The language models' decisive measures (docs/statistics.md, "Which measures decide"): each asks how much of its
# performance a model keeps, against a floor or scale that does not move with the effect. The retained area against
# the model's own floor (every weight of the scope zeroed) is the shape of its decline: it is reported, not decisive,
# because a model that depends less on the scope also has a nearer floor (the positive control), and the share of a
# range that shrinks with the effect cannot see the effect. The first is the headline.
LM_DECISIVE = ('retained_area_untrained', 'mean_excess', 'mean_log_ratio')
CLASSIFIER_MEASURES = ('retained_area', 'mean_excess', 'mean_log_ratio')
UNITS = ('byte', 'token')  # a language model's loss per UTF-8 byte of the text (bits) or per token (nats)


def clipped(interval, bounds):
    """An interval [low, high] clipped to `bounds` (None: unbounded); None stays None."""
    if interval is None or bounds is None:
        return interval
    return [max(interval[0], bounds[0]), min(interval[1], bounds[1])]


# ----------------------------------------------------------------------------- the measures of one curve
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


def over_grid(grid, values):
    """The trapezoid integral of `values` (levels first; any axes after) over the grid, divided by the grid's top: a
    mean over the grid. Each curve is summed along a contiguous last axis, so that a batch of curves gives the same
    numbers, bit for bit, as the curves one at a time."""
    grid = np.asarray(grid, float)
    values = np.ascontiguousarray(np.moveaxis(np.asarray(values, float), 0, -1))
    area = np.trapezoid(values, grid, axis=-1) / grid[-1]
    return float(area) if area.ndim == 0 else area


def retained_area(grid, curve, intact, floor, higher_is_worse=True):
    """The mean of r(p) over the grid (grid[0] = 0): in [0, 1]; NaN where the model has nothing to lose (its intact
    score at or beyond its floor). Curves may be batched: levels first, intact and floor one per curve."""
    intact, floor = np.asarray(intact, float), np.asarray(floor, float)
    ranged = floor > intact if higher_is_worse else floor < intact
    area = np.where(ranged, over_grid(grid, retained_fraction(curve, intact, floor)), math.nan)
    return float(area) if area.ndim == 0 else area


def mean_excess(grid, curve, intact, floor=None, higher_is_worse=True):
    """The mean over the grid of the score lost, y(p) - y(0) (for a score that falls with damage, y(0) - y(p))."""
    sign = 1.0 if higher_is_worse else -1.0
    return over_grid(grid, sign * (np.asarray(curve, float) - intact))


def mean_log_ratio(grid, curve, intact, floor=None, higher_is_worse=True):
    """The mean over the grid of log(y(p) / y(0)) (for a score that falls with damage, log(y(0) / y(p))); -inf or
    NaN where a score is not positive."""
    sign = 1.0 if higher_is_worse else -1.0
    with np.errstate(invalid='ignore', divide='ignore'):
        return over_grid(grid, sign * np.log(np.asarray(curve, float) / intact))


@dataclass(frozen=True)
class Measure:
    """One way to reduce a model's curve to its robustness: `value(grid, curve, intact, floor, higher_is_worse)`;
    `floor`: whether it needs a floor (found under the measure's own name in Curves.floors); `better`: +1 when a
    larger value is more robust, -1 when it is a loss; `bounds`: where a difference of two values can lie;
    `counted_in`: what its differences are counted in."""
    name: str
    words: str
    value: object
    floor: bool
    better: int
    bounds: tuple | None
    counted_in: str

    def margin(self, equivalence_margin, relative_margin, intact):
        """The equivalence margin in the measure's own unit: equivalence_margin of retained area; relative_margin of
        the intact score (`intact`, the pair's mean) for the mean excess; log(1 + relative_margin) for the log ratio."""
        if self.name.startswith('retained_area'):
            return equivalence_margin
        return relative_margin * abs(intact) if self.name == 'mean_excess' else math.log1p(relative_margin)


MEASURES = {measure.name: measure for measure in (
    Measure('retained_area', 'retained area (floor: the scope zeroed; chance for a classifier)', retained_area,
            True, 1, (-1.0, 1.0), 'retained area'),
    Measure('retained_area_untrained', 'retained area (floor: the untrained model)', retained_area, True, 1,
            (-1.0, 1.0), 'retained area'),
    Measure('mean_excess', 'mean excess loss over the grid', mean_excess, False, -1, None, 'score'),
    Measure('mean_log_ratio', 'mean log ratio y(p) / y(0) over the grid', mean_log_ratio, False, -1, None,
            'log ratio'))}


@dataclass
class Curves:
    """One model under one damage: `values` (levels of `grid`, training seeds, draws) of a score, the floors of the
    measures that need one ({measure name: per-seed floors}; a missing or None entry: not measured), and whether the
    score rises with damage (a loss) or falls (accuracy)."""
    grid: list
    values: np.ndarray
    floors: dict
    higher_is_worse: bool

    def intact(self):
        return self.values[0, :, 0]

    def per_seed(self, measure):
        """The measure of each training seed's draw-mean curve; None where its floor was not measured."""
        floors = self.floors.get(measure.name) if measure.floor else [None] * self.values.shape[1]
        if floors is None:
            return None
        curves = self.values.mean(axis=2)  # (levels, seeds): the measures take the seeds as a batch
        return measure.value(self.grid, curves, curves[0], None if floors[0] is None else np.asarray(floors, float),
                             self.higher_is_worse)

    def per_draw(self, measure):
        """One trained model: the measure of each draw's curve; None where its floor was not measured."""
        floors = self.floors.get(measure.name) if measure.floor else [None]
        if floors is None:
            return None
        values = self.values[:, 0, :]  # (levels, draws)
        return measure.value(self.grid, values, values[0, 0], floors[0], self.higher_is_worse)


@dataclass
class Interpolated:
    """A model's Curves at an intact quality between two of its checkpoints: per training seed, its measures at the
    earlier checkpoint (`first`) and the later one (`second`, both Curves of the same grid, seeds and draws) weighted
    linearly, `weights[s]` on the later one. Never extrapolated: every weight lies in [0, 1]."""
    first: Curves
    second: Curves
    weights: np.ndarray

    @property
    def values(self):
        return self.first.values

    def intact(self):
        return (1 - self.weights) * self.first.intact() + self.weights * self.second.intact()

    def per_seed(self, measure):
        first, second = self.first.per_seed(measure), self.second.per_seed(measure)
        return None if first is None or second is None else (1 - self.weights) * first + self.weights * second

    def per_draw(self, measure):
        first, second = self.first.per_draw(measure), self.second.per_draw(measure)
        return None if first is None or second is None else (1 - self.weights[0]) * first + self.weights[0] * second


def aligned(*models):
    """The Curves (or Interpolated) of several models on the levels they share (0 among them, at least two) and the
    draws they all have (draw i of each under the same masks); None if any is missing or they share too little."""
    if any(model is None for model in models):
        return None
    parts = [part for model in models for part in ((model.first,
                                                    model.second) if isinstance(model, Interpolated) else (model,))]
    grid = sorted(set.intersection(*(set(part.grid) for part in parts)))
    if len(grid) < 2 or grid[0] != 0:
        return None
    draws = min(part.values.shape[2] for part in parts)

    def cut(part):
        index = [list(part.grid).index(level) for level in grid]
        return Curves(grid, part.values[index][..., :draws], part.floors, part.higher_is_worse)
    return [Interpolated(cut(model.first), cut(model.second), model.weights) if isinstance(model, Interpolated)
            else cut(model) for model in models]


def decompose(a, b):
    """Why the share-of-range and the absolute measures can disagree, for two Curves with floors: each model's share
    of its range lost (1 - retained area, mean over seeds) L, its range R (floor - intact, mean over seeds), and the
    difference L_b R_b - L_a R_a (about b's mean excess minus a's: exactly so where no level passes the floor) split
    exactly into a share term (L_b - L_a) (R_a + R_b) / 2 and a range term (L_a + L_b) / 2 (R_b - R_a). None without
    floors or a range."""
    if not all(isinstance(model, Curves) and model.floors.get('retained_area') is not None for model in (a, b)):
        return None
    shares, ranges = [], []
    for model in (a, b):
        lost = 1 - model.per_seed(MEASURES['retained_area'])
        span = np.asarray(model.floors['retained_area'], float) - model.intact()
        span = span if model.higher_is_worse else -span
        if not (np.isfinite(lost).all() and (span > 0).all()):
            return None
        shares.append(float(lost.mean()))
        ranges.append(float(span.mean()))
    (la, lb), (ra, rb) = shares, ranges
    return {'share_lost': shares, 'range': ranges, 'share_term': (lb - la) * (ra + rb) / 2,
            'range_term': (la + lb) / 2 * (rb - ra)}


# ----------------------------------------------------------------------------- tests
def t_test_entry(estimate, se, df, over):
    """A test's numbers: the estimate, its standard error and degrees of freedom, the two-sided p-value, and what it
    generalises over (`over`: its replicates, 'training seeds' or the draws of two models); None when nothing varies
    (no standard error)."""
    if not (np.isfinite(se) and se > 0 and df > 0):
        return None
    return {'estimate': float(estimate), 'se': float(se), 'df': float(df),
            'p': float(2 * stats.t.sf(abs(estimate) / se, df)), 'over': over}


def welch_parts(a, b, axis=0):
    """Welch's difference of means, its standard error and degrees of freedom, along `axis` (the training seeds) of
    two arrays; every other axis is another experiment."""
    va, vb = a.var(axis=axis, ddof=1) / a.shape[axis], b.var(axis=axis, ddof=1) / b.shape[axis]
    with np.errstate(invalid='ignore', divide='ignore'):
        df = (va + vb) ** 2 / (va ** 2 / (a.shape[axis] - 1) + vb ** 2 / (b.shape[axis] - 1))
    return a.mean(axis=axis) - b.mean(axis=axis), np.sqrt(va + vb), df


def one_sample_parts(d, axis=0):
    """The mean of `d` along `axis`, its standard error and degrees of freedom."""
    return d.mean(axis=axis), d.std(axis=axis, ddof=1) / math.sqrt(d.shape[axis]), d.shape[axis] - 1


def welch(a, b, over='training seeds'):
    """Welch's t test of mean(a) - mean(b) (each at least 2 values): the training seeds of two models."""
    return t_test_entry(*welch_parts(np.asarray(a, float), np.asarray(b, float)), over)


def one_sample(d, over):
    """The one-sample t test of mean(d) (paired differences, at least 2)."""
    return t_test_entry(*one_sample_parts(np.asarray(d, float)), over)


def difference_test(a, b, paired_a=None, paired_b=None, reason_undefined=NOTHING_TO_LOSE):
    """The test of a - b: Welch over the training seeds when both models have at least 2; with one trained model
    each, a paired t over the draws (`paired_a`, `paired_b`: per-draw values under the same masks), which speaks for
    those two models only. (None, the reason) when there is no test; `reason_undefined` where a value is undefined."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        return None, reason_undefined
    if len(a) >= 2 and len(b) >= 2:
        result = welch(a, b)
    elif len(a) == 1 and len(b) == 1 and paired_a is not None and len(paired_a) >= 2:
        if not (np.isfinite(paired_a).all() and np.isfinite(paired_b).all()):
            return None, reason_undefined
        result = one_sample(np.asarray(paired_a) - np.asarray(paired_b), 'draws of these two trained models')
    elif len(a) == 1 and len(b) == 1:
        return None, 'one trained model each and one draw: nothing varies'
    else:
        return None, 'one side has a single training seed: its seed-to-seed spread is unknown'
    return result, None if result is not None else 'nothing varies between the training seeds or draws'


def paired_test(a, b, reason_undefined=NOTHING_TO_LOSE):
    """The paired t test of a - b over the training seeds (two scores of the same models), or (None, reason)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        return None, reason_undefined
    if len(a) < 2:
        return None, 'one training seed: its seed-to-seed spread is unknown'
    result = one_sample(a - b, 'training seeds (paired)')
    return result, None if result is not None else 'nothing varies between the training seeds'


def trend_test(x, y, span):
    """Least squares of y on x (independent units: one model per (x, training seed)): the change of y over `span`
    units of x along the fitted line, with its t test on n - 2 degrees of freedom."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    if not np.isfinite(y).all():
        return None, NOTHING_TO_LOSE
    if len(x) < 3 or np.ptp(x) == 0:
        return None, 'too few models for a trend'
    fit = stats.linregress(x, y)
    result = t_test_entry(fit.slope * span, fit.stderr * span, len(x) - 2, 'models (x, training seed)')
    return result, None if result is not None else 'nothing varies'


def measured(measure, test, reason, margin, **values):
    """One measure's entry of a row: its test (oriented: positive, a more robust) or why there is none, its margin,
    and the values behind it."""
    return {'measure': measure.name, 'counted_in': measure.counted_in, 'available': reason != UNAVAILABLE, 'test': test,
            'reason': reason, 'margin': margin, 'bounds': measure.bounds, **values}


UNAVAILABLE = 'not measured in this run'  # a measure whose floor the run did not score (old runs: no untrained models)


def compare(a, b, names, equivalence_margin, relative_margin, paired=False):
    """Every measure of `names` for two models' Curves (or Interpolated) a and b on the same grid (draw i of each
    under the same masks): {name: measured(...)}, each difference oriented so that positive says a is more robust.
    Two models: Welch over their training seeds; `paired` (two scores of the same models, or two models that the
    design pairs by training seed): a paired t over the training seeds, in the same order on both sides."""
    single = a.values.shape[1] == 1 and b.values.shape[1] == 1 and not paired
    intact = float(np.mean(np.concatenate([a.intact(), b.intact()])))
    found = {}
    for name in names:
        measure = MEASURES[name]
        margin = measure.margin(equivalence_margin, relative_margin, intact)
        values_a, values_b = a.per_seed(measure), b.per_seed(measure)
        if values_a is None or values_b is None:
            found[name] = measured(measure, None, UNAVAILABLE, margin)
            continue
        draws = [measure.better * x.per_draw(measure) for x in (a, b)] if single else [None, None]
        undefined = NOTHING_TO_LOSE if measure.floor else 'a non-finite score (an overflowed loss)'
        test, reason = (paired_test(measure.better * values_a, measure.better * values_b, undefined) if paired else
                        difference_test(measure.better * values_a, measure.better * values_b, *draws, undefined))
        found[name] = measured(measure, test, reason, margin, a=[float(x) for x in values_a],
                               b=[float(x) for x in values_b])
    return found


# ----------------------------------------------------------------------------- a table's verdicts
def holm_levels(p_values, alpha=ALPHA):
    """Holm's step-down: the level at which each p-value is judged. The k-th smallest gets alpha / (m - k + 1) while
    every smaller one was rejected; from the first that is not, all the rest get that first one's level. A row is
    rejected exactly when its p-value is at most its level, so the intervals at these levels agree with the test."""
    order = np.argsort(p_values, kind='stable')
    m, thresholds, stopped = len(p_values), [None] * len(p_values), None
    for rank, i in enumerate(order):
        threshold = stopped if stopped is not None else alpha / (m - rank)
        if stopped is None and p_values[i] > threshold:
            stopped = threshold
        thresholds[i] = threshold
    return thresholds


def intersection_p(tests):
    """The two-sided p-value of the intersection-union test: a direction is claimed only where every test finds it,
    so its one-sided p-value is the largest of theirs; two-sided, twice the smaller of the two directions'."""
    one_sided = [[stats.t.sf(test['estimate'] / test['se'], test['df']) for test in tests],
                 [stats.t.cdf(test['estimate'] / test['se'], test['df']) for test in tests]]
    return float(min(1.0, 2 * min(max(ps) for ps in one_sided)))


def interval_at(entry, significance):
    """A measure's entry at a significance level (a row's Holm level), a new entry: its interval (clipped to where the
    difference can lie), its sign ('+' above 0, '-' below, '0' neither) and whether it lies inside the margin;
    nothing where it has no test."""
    test = entry['test']
    if test is None:
        return dict(entry, ci=None, sign=None, inside_margin=None)
    half = stats.t.ppf(1 - significance / 2, test['df']) * test['se']
    low, high = test['estimate'] - half, test['estimate'] + half
    return dict(entry, ci=clipped([low, high], entry['bounds']), sign='+' if low > 0 else '-' if high < 0 else '0',
                inside_margin=bool(-entry['margin'] <= low and high <= entry['margin']))


# quantiles of the chi-square whose root scales a t statistic's denominator, over which t_test_power averages
POWER_QUANTILES = (np.arange(2000) + 0.5) / 2000


def t_test_power(effect, df, significance):
    """The power of a two-sided t-test at level `significance` with `df` degrees of freedom against a true difference
    of `effect` standard errors."""
    return power_curve(df, significance)(effect)


def power_curve(df, significance):
    """effect -> the power of a two-sided t-test at level `significance` with `df` degrees of freedom against a true
    difference of `effect` standard errors: P(|Z + effect| > t_crit * S), S = sqrt(chi2(df) / df), averaged over S's
    quantiles (scipy's noncentral t returns nan for the large effects that Holm's small levels need)."""
    critical = stats.t.ppf(1 - significance / 2, df) * np.sqrt(special.chdtri(df, 1 - POWER_QUANTILES) / df)
    return lambda effect: float(np.mean(special.ndtr(effect - critical) + special.ndtr(-critical - effect)))


def detectable_effect(df, significance, power=POWER):
    """The smallest true difference, in standard errors, that a two-sided t-test at level `significance` with `df`
    degrees of freedom rejects with probability `power` (the textbook t_crit + t_power understates it: 68% power, not
    80, at 2 degrees of freedom and Holm's smallest level of a 14-row table)."""
    curve = power_curve(df, significance)
    start = stats.t.ppf(1 - significance / 2, df) + stats.t.ppf(power, df)  # at most the answer
    high = start
    for _ in range(64):  # the power rises with the effect: doubling reaches `power` long before this ends
        if curve(high) >= power:
            return float(brentq(lambda effect: curve(effect) - power, start / 2, high, xtol=1e-6))
        high *= 2
    raise ValueError(f"detectable_effect: no effect reaches power {power} at {df} degrees of freedom and level "
                     f"{significance}")


def detectable_difference(row):
    """The smallest difference in a decided row's headline measure that its test detects with POWER at the row's
    Holm level (the reports state it; the calibration, which decides thousands of tables, does not need it); None for
    a row without a verdict."""
    if row.holm_level is None:
        return None
    test = row.measures[row.statistic]['test']
    return float(detectable_effect(test['df'], row.holm_level) * test['se'])


RULE_POWER_DIFFERENCES = (0.025, 0.05, 0.1)  # stated true differences in the headline (retained area) for rule_power


def rule_power(row, differences=RULE_POWER_DIFFERENCES, simulations=4000, seed=0):
    """The power of the whole rule for one decided row, by parametric bootstrap from its own per-seed values: at each
    stated true difference in the headline measure (every other decisive measure shifted by as many of its own
    standard deviations), the share of simulated experiments of the row's design (its seeds, Welch or paired, each
    model's covariance of the measures over its seeds) in which every decisive measure finds a more robust at the
    row's Holm level: {difference: power}. None for a row without a verdict or not tested over training seeds."""
    entries = [row.measures[name] for name in row.decided_by]
    if row.holm_level is None or not entries or any(entry['test'] is None for entry in entries):
        return None
    replicates = entries[0]['test']['over']
    if not replicates.startswith('training seeds'):
        return None
    better = np.array([MEASURES[entry['measure']].better for entry in entries], float)
    a = np.array([entry['a'] for entry in entries], float).T * better  # (seeds, measures), oriented
    b = np.array([entry['b'] for entry in entries], float).T * better
    paired = replicates == 'training seeds (paired)'
    covariances = [np.atleast_2d(np.cov(a - b if paired else x, rowvar=False)) for x in ((a,) if paired else (a, b))]
    sd = np.sqrt(np.mean([np.diag(c) for c in covariances], axis=0))
    if not (np.isfinite(sd).all() and sd[0] > 0):
        return None
    rng, holm_level, found = np.random.default_rng(seed), row.holm_level, {}
    for difference in differences:
        shift = difference / sd[0] * sd
        x = rng.multivariate_normal(shift, covariances[0], size=(simulations, len(a)), method='eigh')
        if paired:
            estimate, se, df = one_sample_parts(x, axis=1)
        else:
            y = rng.multivariate_normal(np.zeros_like(shift), covariances[1], size=(simulations, len(b)), method='eigh')
            estimate, se, df = welch_parts(x, y, axis=1)
        t = estimate / se
        claimed = (2 * stats.t.sf(t, df)).max(axis=1) <= holm_level  # every measure, a more robust (intersection-union)
        found[difference] = float(claimed.mean())
    return found


def outcome_of(entries):
    """The outcome of a tested row from its decisive measures' entries at the row's level: a direction only where
    every measure finds the same one ('within the margin' where every interval also lies inside its margin),
    'equivalent' where every interval lies inside its margin, 'depends on the measure' where some find a direction
    and others do not or find the other, 'inconclusive' otherwise."""
    signs, inside = [entry['sign'] for entry in entries], [entry['inside_margin'] for entry in entries]
    for sign, direction in (('+', 'higher'), ('-', 'lower')):
        if all(s == sign for s in signs):
            return 'within the margin' if all(inside) else direction
    if all(inside):
        return 'equivalent'
    return 'depends on the measure' if any(s != '0' for s in signs) else 'inconclusive'


def decide(rows, alpha=ALPHA):
    """The verdicts of a table: the rows (robustness.comparison.Comparison, each with its `measures`, entries of
    `compare`, and `decisive`, the declared measures in order, the first its headline; a row built without a test may
    bring its `reason`) decided together, as new records. A row whose decisive measures are all available and tested
    gets the intersection-union p-value, its Holm level over the table's tested rows, every measure's interval at that
    level (`interval_at`) and its outcome (`outcome_of`); a declared measure the run did not measure is left out of
    the decision and named in `unavailable`. Others get outcome 'no verdict' and the reason."""
    tested = []
    for row in rows:
        decisive = tuple(m for m in row.decisive if row.measures[m]['available'])
        untested = [m for m in decisive if row.measures[m]['test'] is None]
        reason = row.reason or ('no declared measure was measured in this run' if not decisive else
                                row.measures[untested[0]]['reason'] if untested else None)
        tested.append(replace(row, unavailable=tuple(m for m in row.decisive if not row.measures[m]['available']),
                              decided_by=decisive, statistic=decisive[0] if decisive else None, reason=reason,
                              p=None if reason else intersection_p([row.measures[m]['test'] for m in decisive])))
    with_p = [i for i, row in enumerate(tested) if row.p is not None]
    thresholds = dict(zip(with_p, holm_levels([tested[i].p for i in with_p], alpha)))
    decided = []
    for i, row in enumerate(tested):
        holm_level = thresholds.get(i)
        measures = {}
        for name, entry in row.measures.items():  # without a verdict, the intervals shown are plain (1 - alpha) ones
            entry = interval_at(entry, holm_level if holm_level is not None else alpha)
            measures[name] = dict(entry, ci_level=1 - (holm_level or alpha) if entry['ci'] is not None else None)
        headline = measures[row.statistic] if row.statistic else None
        decided.append(replace(
            row, measures=measures, holm_level=holm_level, confidence=None if holm_level is None else 1 - holm_level,
            estimate=headline['test']['estimate'] if headline and headline['test'] else None,
            ci=headline['ci'] if holm_level is not None else None,
            tested_over=headline['test']['over'] if headline and headline['test'] else None,
            outcome=outcome_of([measures[m] for m in row.decided_by]) if holm_level is not None else 'no verdict'))
    return decided


def check_measures(measures, valid, untrained=True):
    """The declared measures: at least one, each of `valid`, the untrained floor only where untrained models are
    scored (a one-line error otherwise)."""
    check(measures, "measures: name at least one measure")
    for measure in measures:
        check(measure in valid, f"measures: unknown measure {measure!r}; valid: {', '.join(valid)}")
    check(untrained or 'retained_area_untrained' not in measures,
          "measures: retained_area_untrained needs the untrained models' scores; set untrained=True or leave it out")


def check_margin(margin, setting='equivalence_margin'):
    """A margin lies in [0, 1): a difference of retained areas spans at most 1, and a relative margin is a fraction
    of the intact score (a one-line error otherwise)."""
    check(isinstance(margin, (int, float)) and 0 <= margin < 1,
          f"{setting}: {margin} must lie in [0, 1) (a difference of retained areas, or a fraction of the intact score)")


# ----------------------------------------------------------------------------- the curves of a model
def curve_table(rows, value):
    """(levels, array (levels, training seeds, draws)) of column `value` from the tidy rows of one model under one
    damage (columns level, train_seed, repeat). A level measured once (the intact model, a deterministic kind, random
    deletion of every weight) is repeated over the draws; every other cell keeps the draws that all of them have.
    None when a (level, seed) cell is missing."""
    if rows.empty:
        return None
    grid, seeds = sorted(rows['level'].unique()), sorted(rows['train_seed'].unique())
    cells = {key: group.sort_values('repeat')[value].to_numpy(float)
             for key, group in rows.groupby(['level', 'train_seed'])}
    if len(cells) != len(grid) * len(seeds):
        return None
    n = min([len(values) for (level, _), values in cells.items() if level > 0 and len(values) > 1] or [1])
    return grid, np.array([[np.resize(cells[level, s][:n], n) for s in seeds] for level in grid])


def paired_resamples(seeds_a, seeds_b, draws, resamples, rng):
    """The one bootstrap behind a row's secondary intervals: each resample picks each model's training seeds with
    replacement, independently, and one set of draw indices for both (the same masks). [(seed indices of a, seed
    indices of b, draw indices)]."""
    return [(rng.integers(0, seeds_a, seeds_a), rng.integers(0, seeds_b, seeds_b), rng.integers(0, draws, draws))
            for _ in range(resamples)]


def plain_interval(test, bounds=(-1.0, 1.0), confidence=0.95):
    """The uncorrected `confidence` t interval of a test's estimate, clipped to `bounds`; None without a test."""
    if test is None or not np.isfinite(test['estimate']):
        return None
    half = stats.t.ppf(0.5 + confidence / 2, test['df']) * test['se']
    return clipped([test['estimate'] - half, test['estimate'] + half], bounds)


def percentile_interval(samples, bounds, confidence=0.95):
    """The central percentile interval of the finite `samples`, clipped to `bounds`; None when they do not vary."""
    samples = np.asarray([s for s in samples if s is not None and np.isfinite(s)], float)
    if len(samples) == 0 or np.ptp(samples) == 0:
        return None
    tail = 100 * (1 - confidence) / 2
    return clipped([float(np.percentile(samples, tail)), float(np.percentile(samples, 100 - tail))], bounds)


def crossing(grid, difference):
    """The first level where the curve `difference` (a - b) changes sign, by linear interpolation; None if none."""
    for i in range(len(grid) - 1):
        d0, d1 = difference[i], difference[i + 1]
        if np.isfinite(d0) and np.isfinite(d1) and d0 * d1 < 0:
            return grid[i] + (grid[i + 1] - grid[i]) * d0 / (d0 - d1)
    return None


def half_failure(grid, curves, intact, floor, fraction=0.5):
    """The first level of `grid` at which a curve (the mean over draws at each level) has gone `fraction` of the way
    from `intact` to `floor`, linearly interpolated between the two grid levels around the crossing; None when the
    curve never gets there within the grid. An infinite value (an overflowed loss) is past the target at its own
    level, without interpolation; NaN is skipped. Curves may be batched (levels first; intact and floor one per
    curve): a flat list then, one level or None per curve."""
    curves = np.asarray(curves, float)
    batch = curves.reshape(len(curves), -1)  # (levels, curves)
    intact = np.broadcast_to(np.asarray(intact, float), curves.shape[1:]).reshape(-1)
    floor = np.broadcast_to(np.asarray(floor, float), curves.shape[1:]).reshape(-1)
    grid, columns = np.asarray(grid, float), np.arange(batch.shape[1])
    target = intact + fraction * (floor - intact)
    sign = np.where(floor >= intact, 1.0, -1.0)
    finite = np.isfinite(batch)
    with np.errstate(invalid='ignore'):
        overflowed = np.isinf(batch) & (sign * batch > 0)
        hit = overflowed | (finite & (sign * (batch - target) >= 0))
    first = hit.argmax(axis=0)
    # the last finite level before the first one past the target: the interpolation's other end
    last_finite = np.maximum.accumulate(np.where(finite, np.arange(len(grid))[:, None], -1), axis=0)
    previous = np.where(first > 0, last_finite[np.maximum(first - 1, 0), columns], -1)
    level, value = grid[first], batch[first, columns]
    level0, value0 = grid[np.maximum(previous, 0)], batch[np.maximum(previous, 0), columns]
    with np.errstate(all='ignore'):
        interpolated = level0 + (level - level0) * (target - value0) / (value - value0)
    crossed = np.where(overflowed[first, columns] | (previous < 0), level, interpolated)
    found = [float(x) if reached else None for x, reached in zip(crossed, hit.any(axis=0))]
    return found[0] if curves.ndim == 1 else found


def mean_level(levels):
    """The mean of per-seed half-failure levels; None where any seed does not reach it ("not reached": a result,
    never a number)."""
    return None if any(level is None for level in levels) else float(np.mean(levels))


def half_failure_levels(grid, values, floors, fraction=0.5):
    """(per-seed half-failure levels, their mean) of `values` (levels, training seeds, draws; grid[0] = 0) against
    each seed's floor: per seed, where its draw-mean curve crosses (mean_level: None where any seed does not)."""
    curves = np.asarray(values, float).mean(axis=2)
    levels = half_failure(grid, curves, curves[0], np.asarray(floors, float), fraction)
    return levels, mean_level(levels)


def half_failure_of(curves, fraction=0.5):
    """{'level', 'per_seed', 'reached', 'grid_top'} of one model's Curves against its retained-area floor."""
    per_seed, level = half_failure_levels(curves.grid, curves.values, curves.floors['retained_area'], fraction)
    return {'fraction': fraction, 'level': level, 'reached': level is not None, 'per_seed': per_seed,
            'grid_top': float(curves.grid[-1])}


# ----------------------------------------------------------------------------- one comparison's description
def describe(a, b, fraction, resamples, rng):
    """The description of a comparison of Curves a and b on one grid (no verdicts): per-level means and retained
    fractions with their plain 95% interval, the crossover of the mean curves and the half-failure levels, the last
    two with intervals from one paired bootstrap (`paired_resamples`)."""
    grid, A, B = a.grid, a.values, b.values
    floors_a, floors_b = np.asarray(a.floors['retained_area'], float), np.asarray(b.floors['retained_area'], float)
    fractions = [retained_fraction(X.mean(axis=2), X.mean(axis=2)[0], f) for X, f in ((A, floors_a), (B, floors_b))]
    resampled = paired_resamples(A.shape[1], B.shape[1], A.shape[2], resamples, rng)
    top = float(grid[-1])
    point = crossing(grid, A.mean(axis=(1, 2)) - B.mean(axis=(1, 2)))
    crossings = [crossing(grid, A[:, sa][:, :, d].mean(axis=(1, 2)) - B[:, sb][:, :, d].mean(axis=(1, 2)))
                 for sa, sb, d in resampled]
    return {
        'levels': list(grid), 'repeats': int(A.shape[2]), 'training_seeds': [int(A.shape[1]), int(B.shape[1])],
        'mean_a': [float(x) for x in A.mean(axis=(1, 2))], 'mean_b': [float(x) for x in B.mean(axis=(1, 2))],
        'retained_fraction_difference': [float(x) for x in np.nanmean(fractions[0], 1) - np.nanmean(fractions[1], 1)],
        'retained_fraction_difference_ci95': [plain_interval(welch(fa, fb)) if len(fa) > 1 and len(fb) > 1 else None
                                              for fa, fb in zip(*fractions)],
        'crossover': point,
        'crossover_ci95': percentile_interval(crossings, (0.0, top)) if point is not None else None,
        'crossover_fraction_of_resamples': sum(c is not None for c in crossings) / resamples,
        'half_failure': compare_half_failure(grid, A, B, floors_a, floors_b, resampled, fraction),
        'non_finite_values': int((~np.isfinite(A)).sum() + (~np.isfinite(B)).sum()),
    }


def compare_half_failure(grid, A, B, floors_a, floors_b, resampled, fraction=0.5):
    """Half-failure levels of models a and b and the difference a - b (description), with a 95% interval from the
    row's bootstrap `resampled`. A resample in which either model does not reach half-failure gives no difference;
    the share that give one is reported, and there is no interval unless 95% do. With few training seeds the
    interval is the difference +- t(0.975, n - 1) x the bootstrap SE x sqrt(n / (n - 1)) (n the smaller number of
    seeds: the percentile interval is too narrow there), clipped to [-top, top] of the grid."""
    a, b = (half_failure_levels(grid, X, f, fraction)[1] for X, f in ((A, floors_a), (B, floors_b)))
    draws = np.stack([d for _, _, d in resampled])
    means = []
    for k, (X, floors) in enumerate(((A, floors_a), (B, floors_b))):  # every resample's curves in one batch
        seeds = np.stack([resample[k] for resample in resampled])  # (resamples, seeds)
        curves = X[:, seeds[:, :, None], draws[:, None, :]].mean(axis=3)  # (levels, resamples, seeds)
        levels = half_failure(grid, curves, curves[0], floors[seeds], fraction)
        means.append([mean_level(levels[i:i + seeds.shape[1]]) for i in range(0, len(levels), seeds.shape[1])])
    differences = [ha - hb for ha, hb in zip(*means) if ha is not None and hb is not None]
    share, top = len(differences) / len(resampled), float(grid[-1])
    difference = None if a is None or b is None else a - b
    ci, seeds = None, min(A.shape[1], B.shape[1])
    if difference is not None and share >= 0.95 and np.ptp(differences) > 0:
        if seeds >= 2:
            half = stats.t.ppf(0.975, seeds - 1) * np.std(differences) * np.sqrt(seeds / (seeds - 1))
            ci = clipped([difference - half, difference + half], (-top, top))
        else:  # one model each: only the draws vary, and there are many
            ci = percentile_interval(differences, (-top, top))
    return {'fraction': fraction, 'a': a, 'b': b, 'difference': difference, 'difference_ci95': ci,
            'resamples_reaching': share}
