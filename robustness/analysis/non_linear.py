"""non_linear.py's summary and figures, from out_dir/nonlinear.csv and the run's settings.

Per number of tasks T and training seed, the primary statistic is the retained area of the mean task accuracy, from
intact down to chance (0.5: every task is balanced). The question, does it rise with T, is answered per kind and
scope by the change in retained area from the smallest to the largest T along a least-squares line through every
(T, training seed) model, tested on n - 2 degrees of freedom and Holm-corrected over the table. The same trend on
task 0 alone (which every T shares) and the half-failure levels are description.
"""

import os
import sys

import numpy as np

from robustness import plots
from robustness.analysis import (QUESTIONS, TREND_WORDS, counts_text, finite, interval_text, level_text, read_rows,
                                 row_text, verdict_table, write_summary)
from robustness.perturb import KIND_TABLE
from robustness.results import Table
from robustness.stats import NOTHING_TO_LOSE, curve_table, half_failure_of, plain_interval, retained_areas, trend_test

TABLE = Table('nonlinear.csv', ('dataset', 'num_tasks', 'train_seed', 'kind', 'scope', 'level', 'repeat', 'task',
                                'accuracy', 'loss', 'sparsity'),
              key=('dataset', 'num_tasks', 'train_seed', 'kind', 'scope', 'level', 'repeat'))
CSV = TABLE.filename
CHANCE = 0.5  # every task is balanced
QUESTION = QUESTIONS['non_linear']
XLABELS = {'random_deletion': 'Deletion probability p', 'neuron_deletion': 'Channel deletion probability p',
           'magnitude_pruning': 'Fraction pruned (smallest |w| per tensor)',
           'global_magnitude_pruning': 'Fraction pruned (smallest |w| overall)', 'gaussian_noise': 'Weight noise std',
           'nm_pruning': 'N:M pruning fraction (groups of input channels)'}


def areas_by_model(rows, counts):
    """[(T, training seed, retained area)] of every model in `rows` (one kind and scope, the mean over tasks)."""
    points = []
    for T in counts:
        part = rows[rows.num_tasks == T]
        table = curve_table(part, 'accuracy')
        if table is None or table[0][0] != 0:
            continue
        seeds = sorted(part.train_seed.unique())
        points += [(T, seed, area) for seed, area in zip(seeds, retained_areas(table[0], table[1], [CHANCE] * len(seeds), False))]
    return points


def trend(points, counts):
    """The primary test of one kind and scope: the change in retained area over the range of T; None, with a reason,
    when a model of some T is missing."""
    if len({T for T, _, _ in points}) < len(counts):
        return {'test': None, 'reason': 'incomplete grid'}
    x, y = np.array([T for T, _, _ in points], float), np.array([area for _, _, area in points])
    test, reason = trend_test(x, y, max(counts) - min(counts))
    return {'test': test, 'reason': reason,
            'retained_area': {int(T): [finite(float(a)) for t, _, a in points if t == T] for T in counts}}


def summarize(per_draw, task0, config):
    counts = sorted(set(config['task_counts']))
    margin, fraction = config['equivalence_margin'], config['failure_fraction']
    span = max(counts) - min(counts)
    summary = {'dataset': config['dataset'], 'task_counts': counts, 'primary': (
        'retained area of the mean task accuracy per (T, training seed), from intact down to chance (0.5), averaged '
        f'over the grid; the change from T={min(counts)} to T={max(counts)} along a least-squares line through every '
        'model (positive: rises with T), t test on n - 2 degrees of freedom, Holm-corrected over the table'),
        'secondary': f'task_0: the same change on task 0 alone, with its plain 95% interval; half_failure_level: the level '
                     f'where accuracy has gone {fraction} of the way from intact to chance, mean over training seeds',
        'equivalence_margin': margin, 'intact_accuracy': {}, 'comparisons': {}, 'task_0': {}, 'half_failure_level': {}}
    intact = per_draw[per_draw.level == 0].groupby(['num_tasks', 'train_seed'])['accuracy'].first()
    for T in counts:
        summary['intact_accuracy'][T] = float(intact.loc[T].mean()) if T in intact.index.get_level_values(0) else None
    for kind in config['kinds']:
        for scope in config['scope']:
            name = f'{kind} | {scope}'
            select = lambda frame: frame[(frame.kind == kind) & (frame.scope == scope)]
            rows = select(per_draw)
            if rows.empty:
                continue
            summary['comparisons'][name] = trend(areas_by_model(rows, counts), counts)
            described = trend(areas_by_model(select(task0), counts), counts)['test']
            if described is not None:
                described['ci95'] = plain_interval(described)
            summary['task_0'][name] = described
            summary['half_failure_level'][name] = {
                T: half_failure_of(rows[rows.num_tasks == T], 'accuracy',
                                   dict.fromkeys(rows[rows.num_tasks == T].train_seed.unique(), CHANCE), fraction)
                for T in counts}
    summary['answer'] = dict(question=QUESTION, **verdict_table(summary['comparisons'], margin,
                                                                lambda name: ('rises with T', 'falls with T')))
    summary['answer']['span'] = span
    return summary


def report(summary):
    print("intact accuracy (mean over tasks and training seeds): "
          + ', '.join(f"T={T} {value:.3f}" for T, value in summary['intact_accuracy'].items() if value is not None))
    for name, row in summary['comparisons'].items():
        same = summary['task_0'].get(name)
        print(row_text(name, row).replace('difference in retained area', 'change in retained area over T')
              + (f"; on task 0 alone {same['estimate']:+.4f} {interval_text(same['ci95'])}" if same else '')
              + "; half-failure by T: " + ', '.join(f"T={T} {level_text(entry['level'] if entry else None)}"
                                                    for T, entry in summary['half_failure_level'][name].items()))
        if row['reason'] == NOTHING_TO_LOSE:
            print(f"{name}: a model is intact at chance: nothing to lose, no verdict", file=sys.stderr)
    answer = summary['answer']
    print(f"  {answer['comparisons']} comparisons, Holm-corrected: {counts_text(answer, TREND_WORDS)}")


def draw(per_draw, config):
    """One figure per kind, a panel per scope; accuracy against level, one curve per T, mean ± std."""
    seeds = per_draw.train_seed.nunique()
    for kind in config['kinds']:
        rows = per_draw[per_draw.kind == kind]
        if rows.empty:
            continue
        fig, axes = plots.figure(ncols=len(config['scope']), width=5.2, height=4.2)
        for ax, scope in zip(axes, config['scope']):
            plots.errorbar_lines(ax, rows[rows.scope == scope], 'level', 'accuracy', 'num_tasks',
                                 label=lambda T: f"Num tasks: {T}", std_label=False)
            ax.axhline(CHANCE, color='grey', linestyle=':', linewidth=1)
            draws = 1 if KIND_TABLE[kind].deterministic else config['repeats']
            ax.legend(title=f"mean ± std over {seeds} training seeds x {draws} draws", fontsize=9)
            ax.set_xlabel(XLABELS[kind])
            ax.set_ylabel('Mean task accuracy')
            ax.set_title(f"{config['dataset']}, scope: {scope}", fontsize=11)
        plots.save(fig, os.path.join(config['visuals_dir'], f"{config['dataset']}_nonlinear_{kind}.png"))


def analyze(out_dir, config):
    """Rewrite out_dir/summary.json and the figures from nonlinear.csv; returns the summary."""
    results = read_rows(os.path.join(out_dir, CSV), TABLE)
    results['train_seed'] = results['train_seed'].astype(int)  # every model here has its training seed
    results = results[(results.dataset == config['dataset']) & results.num_tasks.isin(config['task_counts'])
                      & results.train_seed.isin(config['train_seeds']) & results.kind.isin(config['kinds'])
                      & results.scope.isin(config['scope'])]
    keys = ['num_tasks', 'train_seed', 'kind', 'scope', 'level', 'repeat']
    # one number per trial: the mean over the model's tasks (as the paper averages); and task 0 alone
    per_draw = results.groupby(keys, as_index=False)[['accuracy', 'loss']].mean()
    task0 = results[results.task == 0].groupby(keys, as_index=False)[['accuracy', 'loss']].mean()
    summary = summarize(per_draw, task0, config)
    write_summary(out_dir, summary)
    report(summary)
    draw(per_draw, config)
    return summary
