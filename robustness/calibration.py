"""Simulated damage experiments with a known answer, to measure how often the verdicts of robustness.stats are wrong.

    rates = simulate(seeds=3, tables=500, rng=np.random.default_rng(0))                 # nulls: false positives
    rates = simulate(seeds=3, tables=500, rng=rng, shift=0.15)                          # a true effect: power

A table has the rows of test_gpt2.py's default (14: two pairs x four kinds x two scopes, two of them deterministic).
Each row compares two models under one damage. A model's training seed draws its intact bpb, its floor and the level
where its curve bends (seed-level effects); each draw of damage adds noise at the damaged levels; level 1.0 is the
floor itself, the same for every draw. Curves are logistic rises from intact to floor, as the default run's are, in
four shapes (SHAPES): a wide range that bends inside the grid, the attention scope's narrow range with noisy draws,
a robust model that barely bends within the grid (retained areas near 1, skewed), and models of unequal spread. Under
the null both models come from one distribution; with `shift`, model a bends later by that much.
"""

import numpy as np

from robustness.stats import correct, difference_test, draw_areas, retained_areas

GRID = (0.0, 0.3, 0.6, 0.8, 0.9, 1.0)
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


def trained(rng, shape, seeds, shift, spread):
    """The seed-level draws of `seeds` trainings of one model: intact bpb, floor and bend level of each."""
    s = SHAPES[shape]
    intact = s['intact'] + spread * s['sd_intact'] * rng.standard_normal(seeds)
    floor = intact * (s['ratio'] + spread * s['sd_ratio'] * rng.standard_normal(seeds))
    bend = s['bend'] + shift + spread * s['sd_bend'] * rng.standard_normal(seeds)
    return shape, intact, floor, bend


def damaged(rng, trainings, draws, grid=GRID):
    """(levels, seeds, draws) bpb of the trained models under `draws` draws of damage, and their floors."""
    shape, intact, floor, bend = trainings
    grid = np.asarray(grid)
    rise = 1 / (1 + np.exp(-(grid[:, None] - bend[None]) / SHAPES[shape]['width']))  # (levels, seeds)
    values = (intact + (floor - intact) * rise)[:, :, None]
    values = values + SHAPES[shape]['sd_draw'] * rng.standard_normal((len(grid), len(intact), draws))
    values[0] = intact[:, None]        # the intact model, measured once
    values[-1] = floor[:, None]        # every weight zeroed: the floor, measured once
    return values, floor


def true_difference(shape, shift, rng, seeds=20000):
    """E[retained area of a] - E[retained area of b] (one draw each, many seeds): what the intervals must cover."""
    a, fa = damaged(rng, trained(rng, shape, seeds, shift, SHAPES[shape]['spread_a']), 1)
    b, fb = damaged(rng, trained(rng, shape, seeds, 0.0, 1.0), 1)
    return float(retained_areas(GRID, a, fa, True).mean() - retained_areas(GRID, b, fb, True).mean())


def simulate(seeds, tables, rng, shift=0.0, draws=3, margin=0.05, truths=None):
    """Run `tables` simulated tables of ROWS with `seeds` training seeds per model (1: one trained model each, tested
    over its draws) and return the rates: 'row' (share of rows with a direction verdict), 'table' (share of tables
    with at least one), 'coverage' (share of rows whose corrected interval holds the true difference), 'uncorrected
    coverage' (the same for the plain 95% interval of each row), 'equivalent' (share of rows called equivalent) and
    'wrong direction' (rows whose verdict has the wrong sign)."""
    truths = truths or {shape: true_difference(shape, shift, np.random.default_rng(1)) for shape in SHAPES}
    counts = dict.fromkeys(('row', 'table', 'coverage', 'uncorrected coverage', 'equivalent', 'wrong direction',
                            'rows'), 0)
    for _ in range(tables):
        rows = {}
        for i, (shape, deterministic) in enumerate(ROWS):
            n_draws = 1 if deterministic else draws
            trainings = [trained(rng, shape, seeds, shift, SHAPES[shape]['spread_a']), trained(rng, shape, seeds, 0.0, 1.0)]
            (a, fa), (b, fb) = (damaged(rng, t, n_draws) for t in trainings)
            paired, truth = [None, None], truths[shape]
            if seeds == 1:  # one trained model each: the verdict speaks for these two, and so does the truth
                paired = [draw_areas(GRID, a, fa[0], True), draw_areas(GRID, b, fb[0], True)]
                many = [damaged(rng, t, 400) for t in trainings]
                truth = float(np.subtract(*(draw_areas(GRID, v, f[0], True).mean() for v, f in many)))
            test, reason = difference_test(retained_areas(GRID, a, fa, True), retained_areas(GRID, b, fb, True), *paired)
            rows[i] = {'test': test, 'reason': reason, 'truth': truth}
        plain = {i: dict(row) for i, row in rows.items()}
        correct(rows, margin)
        found = False
        for i, row in rows.items():
            if row['test'] is None:
                continue
            counts['rows'] += 1
            low, high = row['ci']
            directional = row['outcome'] in ('higher', 'lower')
            found |= directional
            counts['row'] += directional
            counts['wrong direction'] += directional and (row['outcome'] == 'higher') != (row['truth'] > 0)
            counts['equivalent'] += row['outcome'] == 'equivalent'
            counts['coverage'] += low <= row['truth'] <= high
            correct({0: plain[i]}, margin)  # the row alone: its plain 95% interval
            counts['uncorrected coverage'] += plain[i]['ci'][0] <= row['truth'] <= plain[i]['ci'][1]
        counts['table'] += found
    rows_tested = max(counts.pop('rows'), 1)
    return {key: value / (tables if key == 'table' else rows_tested) for key, value in counts.items()}
