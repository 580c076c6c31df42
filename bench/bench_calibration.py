"""Benchmark: are the verdicts calibrated, also against the confounds a real pair of models carries? Simulated tables
shaped like test_gpt2.py's default (robustness/calibration.py) at 2, 3, 5 and 10 training seeds per model, and at one
trained model each (the verdict then concerns those two), through the same measures and rule as a real table.

    python bench/bench_calibration.py                       # 500 tables per null family and seed count
    python bench/bench_calibration.py --tables=100 --seed_counts=3 --families=clean,floors

Prints, per null family (both models' damaged curves from one distribution: clean; unequal floors; unequal intact
scores; another tokenizer) and seed count: the share of rows and of tables (family-wise) with a "more/less robust"
verdict (target: at most 5%), the coverage of the headline measure's Holm-corrected and plain 95% intervals (target:
at least 95%), the share called equivalent; then the false-equivalence rate at a true difference on the margin
(target: at most 5%) and the power at a few true effects, in units of the headline statistic (the retained area).
Then the simulated positive control: model a loses a share less at every level and the same share of its own range
(its range x keep, as dropout does), found by the declared decisive measures and by every measure (the rule before
2026-12-07). Each rate comes with its Monte-Carlo standard error. Last, the paired designs: nulls and an effect where the two
models of a seed share most of their seed-level variance, tested with Welch and paired over the seeds.
"""

import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from robustness.calibration import FAMILIES, ROWS, SHAPES, margin_shift, simulate, true_difference
from robustness.stats import LM_DECISIVE, LM_MEASURES, check_measures
from robustness.config import configure, settings_checked

# -----------------------------------------------------------------------------
families = list(FAMILIES)    # null families: clean | floors | intact | tokenizer
seed_counts = [2, 3, 5, 10]  # training seeds per model
tables = 500                 # simulated null tables per family and seed count (14 rows each)
single_tables = 50           # clean null tables with one trained model each (slower: each row's truth is simulated)
effect_tables = 200          # simulated tables per true effect and at the margin
shifts = [0.05, 0.1, 0.2]    # true effects: model a's curve bends this much later (the table gives the headline's difference)
keeps = [0.8, 0.65, 0.5]     # the positive control's effect: model a's range this share of b's (it loses this share of b's loss)
measures = list(LM_DECISIVE)  # the decisive measures, the first the headline (its intervals' coverage is checked)
shared = 0.8                 # paired nulls: the share of the seed-level variance the two models of a seed share
margin = 0.05                # equivalence margin, in retained area
seed = 0
# -----------------------------------------------------------------------------
configure(globals())
check_measures(measures, LM_MEASURES)
settings_checked()


def rate(value, n):
    return f"{100 * value:.1f}% ± {100 * np.sqrt(max(value * (1 - value), 1e-12) / n):.1f}"


rng = np.random.default_rng(seed)
rows = len(ROWS)
headline = measures[0]
print(f"Null tables of {rows} rows (shapes: {', '.join(SHAPES)}); decisive: {', '.join(measures)} (coverage of "
      f"{headline}'s intervals); Holm over each table; margin ±{margin}\n")
print('| null family | training seeds | tables | rows with a direction verdict | tables with one (family-wise) | '
      'corrected coverage | plain 95% coverage | equivalent | seconds |')
print('|---|---|---|---|---|---|---|---|---|')
for family in families:
    for seeds in ([1] if family == 'clean' else []) + seed_counts:
        n = single_tables if seeds == 1 else tables
        started = time.perf_counter()
        result = simulate(seeds, n, rng, margin=margin, family=family, measures=measures)
        tested = n * rows  # an upper bound on the rows tested (deterministic rows of one model each are not)
        direction = ('(right direction: these two models differ)' if seeds == 1 else rate(result['row'], tested))
        print(f"| {family} | {seeds} | {n} | {direction} | {'n/a' if seeds == 1 else rate(result['table'], n)} | "
              f"{rate(result['coverage'], tested)} | {rate(result['uncorrected coverage'], tested)} | "
              f"{rate(result['equivalent'], tested)} | {time.perf_counter() - started:.0f} |", flush=True)

on_margin = {shape: margin_shift(shape, margin, measure=headline) for shape in SHAPES}
print(f"\nFalse equivalence: model a bends later by {', '.join(f'{s:.3f}' for s in on_margin.values())} (per shape), "
      f"a true difference in {headline} of {margin} (the margin; a shape whose bend cannot move it that far, at "
      f"1.000, is left out); the share of those rows called equivalent\n")
print('| training seeds | equivalent (false) | rows with the right direction |')
print('|---|---|---|')
for seeds in seed_counts:
    result = simulate(seeds, effect_tables, rng, shift=on_margin, margin=margin, measures=measures)
    print(f"| {seeds} | {rate(result['false equivalence'], result['rows beyond the margin'])} | "
          f"{rate(result['row'] - result['wrong direction'], effect_tables * rows)} |", flush=True)

print(f'\nPower: the share of rows with the right direction verdict, by true difference in {headline} '
      '(mean over the shapes; per shape in brackets)\n')
truths = {shift: {shape: true_difference(shape, shift, np.random.default_rng(1), measure=headline) for shape in SHAPES}
          for shift in shifts}
print('| training seeds | ' + ' | '.join(f"shift {shift}: Δ area {np.mean(list(truths[shift].values())):.3f} "
                                        f"({', '.join(f'{v:.3f}' for v in truths[shift].values())})" for shift in shifts) + ' |')
print('|---|' + '---|' * len(shifts))
for seeds in seed_counts:
    cells = []
    for shift in shifts:
        result = simulate(seeds, effect_tables, rng, shift=shift, margin=margin, truths=truths[shift],
                          measures=measures)
        cells.append(rate(result['row'] - result['wrong direction'], effect_tables * rows))
    print(f"| {seeds} | " + ' | '.join(cells) + ' |', flush=True)

print(f'\nThe simulated positive control: model a\'s range (and its curve) is a share `keep` of b\'s, so it loses that '
      f'share of b\'s loss at every level and the same share of its own range; the share of rows with the right '
      f'direction verdict with the declared decisive measures ({", ".join(measures)}) and with every measure\n')
keep_truths = {keep: {shape: true_difference(shape, 0.0, np.random.default_rng(1), keep=keep, measure=headline)
                      for shape in SHAPES} for keep in keeps}
print('| training seeds | decisive | ' + ' | '.join(
    f"keep {keep}: Δ {headline} {np.mean(list(keep_truths[keep].values())):.3f}" for keep in keeps) + ' |')
print('|---|---|' + '---|' * len(keeps))
for seeds in seed_counts:
    for decisive in (measures, list(LM_MEASURES)):
        cells = []
        for keep in keeps:
            truth = keep_truths[keep] if decisive[0] == headline else None
            result = simulate(seeds, effect_tables, rng, keep=keep, margin=margin, truths=truth, measures=decisive)
            cells.append(rate(result['row'] - result['wrong direction'], effect_tables * rows))
        print(f"| {seeds} | {'declared' if decisive is measures else 'every measure'} | " + ' | '.join(cells) + ' |',
              flush=True)

print(f"\nPaired designs: the two models of a training seed share {shared:.0%} of their seed-level variance (one "
      f"initialisation); the clean null and the power at shift {shifts[1]}, tested with Welch and paired over the seeds\n")
print('| training seeds | test | rows with a direction verdict (null) | tables with one (family-wise) | corrected coverage | '
      'plain 95% coverage | equivalent (null) | power at shift ' + f'{shifts[1]} |')
print('|---|---|---|---|---|---|---|---|')
for seeds in seed_counts:
    for paired in (False, True):
        null = simulate(seeds, tables, rng, margin=margin, shared=shared, paired=paired, measures=measures)
        effect = simulate(seeds, effect_tables, rng, shift=shifts[1], margin=margin, truths=truths[shifts[1]],
                          shared=shared, paired=paired, measures=measures)
        print(f"| {seeds} | {'paired' if paired else 'Welch'} | {rate(null['row'], tables * rows)} | "
              f"{rate(null['table'], tables)} | {rate(null['coverage'], tables * rows)} | {rate(null['uncorrected coverage'], tables * rows)} | "
              f"{rate(null['equivalent'], tables * rows)} | "
              f"{rate(effect['row'] - effect['wrong direction'], effect_tables * rows)} |", flush=True)
