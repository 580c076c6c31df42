"""Simulated damage experiments with a known answer, to measure how often the verdicts of robustness.stats are wrong.

    rates = simulate(seeds=3, tables=500, rng=np.random.default_rng(0))                      # the clean null
    rates = simulate(seeds=3, tables=500, rng=rng, family='floors')                          # a confounded null
    rates = simulate(seeds=3, tables=500, rng=rng, shift=0.15)                               # a true effect: power

A table has the rows of test_gpt2.py's default (14: two pairs x four kinds x two scopes, two of them deterministic).
Each row compares two models under one damage, through the same measures and the same rule as a real row
(robustness.stats.compare and decide). A model's training seed draws its intact bpb, its floor and the level where
its curve bends (seed-level effects); each draw of damage adds noise at the damaged levels; level 1.0 is the floor
itself, the same for every draw; the untrained model scores UNTRAINED_BPB bits per byte whatever was trained. Curves
are logistic rises from intact to floor, as the default run's are, in four shapes (SHAPES): a wide range that bends
inside the grid, the attention scope's narrow range with noisy draws, a robust model that barely bends within the
grid (retained areas near 1, skewed), and models of unequal spread.

Null families (FAMILIES), each with both models' damaged curves from one distribution: 'clean'; 'floors', b's
scope-zeroed floor 1.5 times as far from intact (the curve unchanged); 'intact', b's whole curve and floor 10% of the
intact score higher (the same excess); 'tokenizer', b's tokenizer cutting the text finer (2.99 bytes per token
against 3.44), so that its per-token curve is another multiple of its per-byte one and its untrained floor, per byte,
higher. With `shift`, model a bends later by that much: a true effect. With `keep`, model a's range (floor over
intact, and its curve with it) is that share of b's: it loses that share of b's loss at every level and the same
share of its own range, the effect of dropout in the positive control (docs/statistics.md). With `shared`, the two
models of a training seed share that part of their seed-level variance (the shared arm's design: one initialisation per
seed), and `paired` tests them paired over the seeds.
"""

import math

import numpy as np

from robustness.comparison import Comparison
from robustness.stats import LM_DECISIVE, LM_MEASURES, MEASURES, Curves, compare, decide

GRID = (0.0, 0.3, 0.6, 0.8, 0.9, 1.0)
UNTRAINED_BPB = 3.2       # the untrained model, per byte, at BYTES_PER_TOKEN (log2 of a 2,048 vocabulary / 3.44)
BYTES_PER_TOKEN = (3.44, 2.99)  # a's tokenizer, b's in the 'tokenizer' family
FAMILIES = ('clean', 'floors', 'intact', 'tokenizer')
# intact bpb, floor / intact, bend level, bend width; seed-level sds of intact, floor ratio and bend; draw noise;
# model a's seed-level sds as a multiple of b's
SHAPES = {
    'wide range': dict(intact=2.0, ratio=2.0, bend=0.6, width=0.08, sd_intact=0.02, sd_ratio=0.02, sd_bend=0.05,
                       sd_draw=0.03, spread_a=1.0),
    'narrow range': dict(intact=2.0, ratio=1.04, bend=0.7, width=0.1, sd_intact=0.02, sd_ratio=0.005, sd_bend=0.1,
                         sd_draw=0.005, spread_a=1.0),
    'robust': dict(intact=2.0, ratio=2.0, bend=1.1, width=0.1, sd_intact=0.02, sd_ratio=0.02, sd_bend=0.08,
                   sd_draw=0.01, spread_a=1.0),
    'unequal spread': dict(intact=2.0, ratio=2.0, bend=0.6, width=0.08, sd_intact=0.02, sd_ratio=0.02, sd_bend=0.05,
                           sd_draw=0.03, spread_a=3.0),
}
ROWS = [(shape, deterministic) for shape in SHAPES for deterministic in (False, True)] * 2
ROWS = ROWS[:14]  # 14 rows, as test_gpt2.py's default table; every fourth is deterministic (one draw)


def trained(rng, shape, seeds, shift, spread, common=None, shared=0.0, keep=1.0):
    """The seed-level draws of `seeds` trainings of one model: intact bpb, floor and bend level of each; `keep`
    scales its range (floor minus intact). With
    `common` ((3, seeds) standard normals) a share `shared` of each seed's variance is the seed's own effect, the same
    for every model trained with that seed (one initialisation, the same data order)."""
    s = SHAPES[shape]
    normals = rng.standard_normal((3, seeds))
    if common is not None:
        normals = math.sqrt(shared) * common + math.sqrt(1 - shared) * normals
    intact = s['intact'] + spread * s['sd_intact'] * normals[0]
    floor = intact * (1 + keep * (s['ratio'] - 1 + spread * s['sd_ratio'] * normals[1]))
    bend = s['bend'] + shift + spread * s['sd_bend'] * normals[2]
    return shape, intact, floor, bend


def damaged(rng, trainings, draws, family='clean', confounded=False):
    """(bpb (levels, seeds, draws), its floors {measure: per-seed floor}, bytes per token) of the trained models
    under `draws` draws of damage; a `confounded` model carries the family's confound."""
    shape, intact, floor, bend = trainings
    grid = np.asarray(GRID)
    rise = 1 / (1 + np.exp(-(grid[:, None] - bend[None]) / SHAPES[shape]['width']))  # (levels, seeds)
    values = (intact + (floor - intact) * rise)[:, :, None]
    values = values + SHAPES[shape]['sd_draw'] * rng.standard_normal((len(grid), len(intact), draws))
    values[0] = intact[:, None]        # the intact model, measured once
    values[-1] = floor[:, None]        # every weight zeroed: the floor, measured once
    zeroed, bytes_per_token = floor.copy(), BYTES_PER_TOKEN[0]
    untrained = np.full(len(intact), UNTRAINED_BPB)
    if confounded and family == 'floors':
        zeroed = intact + 1.5 * (floor - intact)
    elif confounded and family == 'intact':
        values, zeroed = values + 0.1 * intact[None, :, None], zeroed + 0.1 * intact
    elif confounded and family == 'tokenizer':
        bytes_per_token = BYTES_PER_TOKEN[1]
        # log2(vocabulary) bits per token, over fewer bytes
        untrained = untrained * BYTES_PER_TOKEN[0] / bytes_per_token
    return values, {'retained_area': zeroed, 'retained_area_untrained': untrained}, bytes_per_token


def curves_of(values, floors, bytes_per_token, unit='byte'):
    """The Curves of a simulated model in `unit`: per token, bits per byte x ln 2 x bytes per token (nats)."""
    scale = 1.0 if unit == 'byte' else math.log(2) * bytes_per_token
    return Curves(list(GRID), values * scale, {name: np.asarray(floor) * scale for name, floor in floors.items()}, True)


def row_of(a, b, margin, measures=LM_DECISIVE, relative_margin=0.05, paired=False):
    """A simulated row: every measure of the pair per byte, `measures` decisive (the per-token excess, not comparable
    across tokenizers, is reported and never decisive, as in a real row); `paired`: a paired t over the seeds."""
    return Comparison(measures=compare(curves_of(*a), curves_of(*b), LM_MEASURES, margin, relative_margin, paired),
                      decisive=tuple(measures))


def true_difference(shape, shift, rng, family='clean', seeds=20000, keep=1.0, measure='retained_area'):
    """E[`measure` of a] - E[`measure` of b] (one draw each, many seeds, per byte): what the intervals of a table
    whose headline it is must cover."""
    a, fa, _ = damaged(rng, trained(rng, shape, seeds, shift, SHAPES[shape]['spread_a'], keep=keep), 1, family)
    b, fb, _ = damaged(rng, trained(rng, shape, seeds, 0.0, 1.0), 1, family, confounded=True)
    value = lambda values, floors: curves_of(values, floors, 1.0).per_seed(MEASURES[measure])
    return float(np.nanmean(value(a, fa)) - np.nanmean(value(b, fb)))


def margin_shift(shape, margin, seed=1, measure=LM_DECISIVE[0]):
    """The shift of a's bend whose true difference in `measure` is `margin` (bisection, each step with the same
    random numbers): a difference on the margin."""
    low, high = 0.0, 1.0
    for _ in range(20):
        middle = (low + high) / 2
        if true_difference(shape, middle, np.random.default_rng(seed), seeds=4000, measure=measure) < margin:
            low = middle
        else:
            high = middle
    return (low + high) / 2


def simulate(seeds, tables, rng, shift=0.0, draws=3, margin=0.05, truths=None, family='clean', measures=LM_DECISIVE,
             shared=0.0, paired=False, keep=1.0):
    """Run `tables` simulated tables of ROWS with `seeds` training seeds per model (1: one trained model each, tested
    over its draws) and return the rates: 'row' (share of tested rows with a direction verdict), 'table' (share of
    tables with at least one), 'coverage' (share of rows whose corrected headline interval holds its true difference),
    'uncorrected coverage' (the same for the plain 95% interval), 'equivalent' (share of rows called equivalent),
    'false equivalence' (of the rows whose true headline difference reaches the margin, the share called equivalent;
    None where none does),
    'wrong direction' (rows whose verdict has the wrong sign). `shift`: a true effect, a number or {shape: shift};
    `keep`: another, a's range that share of b's; `measures`: the decisive ones, the first the headline whose
    intervals' coverage is checked (the project's rule: stats.LM_DECISIVE); `shared`: the share of the seed-level
    variance that the two models of a training seed share; `paired`: test over the seeds paired
    (robustness.stats.paired_test)."""
    shifts = shift if isinstance(shift, dict) else dict.fromkeys(SHAPES, shift)
    truths = truths or {shape: true_difference(shape, shifts[shape], np.random.default_rng(1), family, keep=keep,
                                               measure=measures[0]) for shape in SHAPES}
    counts = dict.fromkeys(('row', 'table', 'coverage', 'uncorrected coverage', 'equivalent', 'wrong direction',
                            'false equivalence', 'rows', 'beyond the margin'), 0)
    for _ in range(tables):
        rows, truths_of_rows = [], []
        for shape, deterministic in ROWS:
            n_draws = 1 if deterministic else draws
            common = rng.standard_normal((3, seeds)) if shared else None
            trainings = [trained(rng, shape, seeds, shifts[shape], SHAPES[shape]['spread_a'], common, shared, keep),
                         trained(rng, shape, seeds, 0.0, 1.0, common, shared)]
            a, b = (damaged(rng, t, n_draws, family, confounded=k == 1) for k, t in enumerate(trainings))
            truth = truths[shape]
            if seeds == 1:  # one trained model each: the verdict speaks for these two, and so does the truth
                many = [damaged(rng, t, 400, family, confounded=k == 1) for k, t in enumerate(trainings)]
                truth = float(np.subtract(*(curves_of(*m).per_draw(MEASURES[measures[0]]).mean() for m in many)))
            rows.append(row_of(a, b, margin, measures, paired=paired))
            truths_of_rows.append(truth)
        found = False
        for row, truth in zip(decide(rows), truths_of_rows):
            if row.outcome == 'no verdict':
                continue
            counts['rows'] += 1
            directional = row.outcome in ('higher', 'lower')
            found |= directional
            counts['row'] += directional
            counts['wrong direction'] += directional and (row.outcome == 'higher') != (truth > 0)
            counts['equivalent'] += row.outcome == 'equivalent'
            beyond = abs(truth) >= 0.98 * margin  # on the margin, up to the truths' Monte-Carlo error
            counts['beyond the margin'] += beyond
            counts['false equivalence'] += beyond and row.outcome == 'equivalent'
            low, high = row.ci
            counts['coverage'] += low <= truth <= high
            plain = decide_alone(row)  # the row alone: its plain 95% interval
            counts['uncorrected coverage'] += plain[0] <= truth <= plain[1]
        counts['table'] += found
    rows_tested, beyond = max(counts.pop('rows'), 1), counts.pop('beyond the margin')
    rates = {key: float(value / (tables if key == 'table' else rows_tested)) for key, value in counts.items()}
    rates['false equivalence'] = counts['false equivalence'] / beyond if beyond else None
    rates['rows beyond the margin'] = beyond
    return rates


def decide_alone(row):
    """The headline measure's plain 95% interval of a decided row."""
    (alone,) = decide([Comparison(measures={row.statistic: row.measures[row.statistic]}, decisive=(row.statistic,))])
    return alone.ci

