"""non_linear.py's summary and figures, from out_dir/nonlinear.csv and the run's settings.

Per number of tasks T and training seed, each declared measure (robustness.stats: the retained area of the mean task
accuracy from intact down to chance, 0.5 as every task is balanced; the mean accuracy lost; the mean log ratio) is
computed; the question, does robustness rise with T, is answered per kind and scope by each measure's change from the
smallest to the largest T along a least-squares line through every (T, training seed) model, tested on n - 2 degrees
of freedom; a direction is claimed only where every measure finds it, Holm-corrected over the table. The same trend on
task 0 alone (which every T shares) and the half-failure levels are description.
"""

import os
from dataclasses import replace

import numpy as np

from robustness import plots
from robustness.analysis import QUESTIONS, TREND_WORDS, counts_text, interval_text, level_text, row_text, decide_table
from robustness.analysis.markdown import render_verdicts, table
from robustness.analysis.schema import finite, write_summary
from robustness.comparison import Comparison
from robustness.kinds import KINDS
from robustness.results import Table, read_rows
from robustness.stats import (CLASSIFIER_MEASURES, MEASURES, UNAVAILABLE, Curves, curve_table, half_failure_of,
                              measured,
                              plain_interval, trend_test)

TABLE = Table('nonlinear.csv', ('dataset', 'num_tasks', 'train_seed', 'kind', 'scope', 'level', 'repeat', 'task',
                                'accuracy', 'loss', 'sparsity'),
              key=('dataset', 'num_tasks', 'train_seed', 'kind', 'scope', 'level', 'repeat'))
CSV = TABLE.filename
FLOOR = 0.5  # chance: every task is balanced
QUESTION = QUESTIONS['non_linear']


def curves_by_model(rows, counts):
    """{T: Curves of the mean task accuracy of every training seed of T} under one kind and scope."""
    found = {}
    for T in counts:
        table = curve_table(rows[rows.num_tasks == T], 'accuracy')
        if table is not None and table[0][0] == 0 and len(table[0]) > 1:
            found[T] = Curves(table[0], table[1], {'retained_area': [FLOOR] * table[1].shape[1]}, higher_is_worse=False)
    return found


def trend(rows, counts, config, kind, scope):
    """The row of one kind and scope: each measure's change over the range of T along the fitted line (oriented:
    positive, more robust with more tasks), with its test; no test where a model of some T is missing."""
    found, span = curves_by_model(rows, counts), max(counts) - min(counts)
    measures = {}
    for name in CLASSIFIER_MEASURES:
        measure = MEASURES[name]
        if len(found) < len(counts):
            measures[name] = measured(measure, None, 'incomplete grid', config['equivalence_margin'])
            continue
        values = {T: curves.per_seed(measure) for T, curves in found.items()}
        x = np.concatenate([[T] * len(v) for T, v in values.items()]).astype(float)
        y = np.concatenate(list(values.values()))
        test, reason = trend_test(x, measure.better * y, span)
        intact = float(np.mean([curves.intact().mean() for curves in found.values()]))
        measures[name] = measured(measure, test, reason if reason != UNAVAILABLE else None,
                                  measure.margin(config['equivalence_margin'], config['relative_margin'], intact),
                                  per_model={int(T): [finite(float(v)) for v in vs] for T, vs in values.items()})
    return Comparison(kind=kind, scope=scope, design='trend over T', measures=measures,
                      decisive=tuple(config['measures']))


def summarize(per_draw, task0, config):
    counts = sorted(set(config['task_counts']))
    fraction = config['failure_fraction']
    summary = {'dataset': config['dataset'], 'task_counts': counts, 'measures': list(config['measures']), 'rule': (
        'every measure of docs/statistics.md of the mean task accuracy per (T, training seed): retained area from '
        f'intact down to chance ({FLOOR}), mean accuracy lost, mean log ratio; each one\'s change from T={min(counts)} '
        f'to T={max(counts)} along a least-squares line through every model (positive: more robust with more tasks), '
        't test on n - 2 degrees of freedom; a direction claimed only where every measure finds it, Holm-corrected '
        'over the table'),
        'secondary': f'task_0: the change in retained area on task 0 alone, with its plain 95% interval; '
                     f'half_failure_level: the level where accuracy has gone {fraction} of the way from intact to '
                     f'chance, mean over training seeds',
        'equivalence_margin': config['equivalence_margin'], 'relative_margin': config['relative_margin'],
        'floor': FLOOR, 'intact_accuracy': {}}
    intact = per_draw[per_draw.level == 0].groupby(['num_tasks', 'train_seed'])['accuracy'].first()
    for T in counts:
        summary['intact_accuracy'][T] = float(intact.loc[T].mean()) if T in intact.index.get_level_values(0) else None
    comparisons = []
    for kind in config['kinds']:
        for scope in config['scope']:
            select = lambda frame: frame[(frame.kind == kind) & (frame.scope == scope)]
            rows = select(per_draw)
            if rows.empty:
                continue
            same = trend(select(task0), counts, config, kind, scope).measures['retained_area']['test']
            comparisons.append(replace(trend(rows, counts, config, kind, scope), described={
                'task_0': None if same is None else dict(same, ci95=plain_interval(same)),
                'half_failure_by_task_count': {T: half_failure_of(curves, fraction)
                                               for T, curves in curves_by_model(rows, counts).items()}}))
    summary['comparisons'], answer = decide_table(comparisons, lambda row: ('rises with T', 'falls with T'))
    summary['answer'] = dict(question=QUESTION, **answer)
    summary['answer']['span'] = max(counts) - min(counts)
    return summary


def report(summary):
    print("intact accuracy (mean over tasks and training seeds): "
          + ', '.join(f"T={T} {value:.3f}" for T, value in summary['intact_accuracy'].items() if value is not None))
    for row in summary['comparisons']:
        same = row.described['task_0']
        print(row_text(row).replace('retained area', 'change in retained area over T', 1)
              + (f"; on task 0 alone {same['estimate']:+.4f} {interval_text(same['ci95'])}" if same else '')
              + "; half-failure by T: " + ', '.join(
                  f"T={T} {level_text(entry['level'] if entry else None)}"
                  for T, entry in row.described['half_failure_by_task_count'].items()))
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
            ax.axhline(FLOOR, color='grey', linestyle=':', linewidth=1)
            ax.set_xlabel(KINDS[kind].label)
            ax.set_ylabel('Mean task accuracy')
            ax.set_title(f"{config['dataset']}, scope: {scope}", fontsize=11)
        draws = KINDS[kind].draws(config['repeats'])
        plots.legend_below(fig, axes[0], f"mean ± std over {seeds} training seeds x {draws} draws")
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


def render(summary):
    """The section's tables: intact accuracy, the verdicts on the trends over T, and task 0 and the half-failure
    levels as description."""
    intact = ', '.join(f"T={T}: {value:.3f}" for T, value in summary['intact_accuracy'].items() if value is not None)
    counts = summary['task_counts']
    text = (f"Intact accuracy (mean over tasks and training seeds): {intact}.\n\n"
            + render_verdicts(summary, summary['comparisons'], summary['measures'], 'accuracy')
            .replace('Differences a - b, positive where a is more robust',
                     f'Changes over T={counts[0]} to {counts[-1]} along the fitted line, positive where robustness '
                     f'rises with T')
            + f"\n\n_{summary['rule']}._")
    show = lambda entry: 'n/a' if not entry else level_text(entry['level'])
    described = []
    for row in summary['comparisons']:
        same, halves = row.described['task_0'], row.described['half_failure_by_task_count']
        described.append([row.label, 'n/a' if not same else f"{same['estimate']:+.4f} {interval_text(same['ci95'])}",
                          *(show(halves.get(str(T), halves.get(T))) for T in counts)])
    return text + ("\n\n<details><summary>description: task 0 alone, half-failure levels (no verdicts)</summary>\n\n"
                   + table(['kind / scope', 'task 0: change in retained area [95% CI]',
                            *(f'half-failure T={T}' for T in counts)], described)
                   + f"\n\n{summary['secondary']}.\n\n</details>")
