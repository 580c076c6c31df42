"""run_glue_test.py's summary and figures, from out_dir/glue.csv, out_dir/floors.json and the run's settings.

Every comparison (a - b, kind, scope, layers) is decided on the task's first metric under the declared measures
(robustness.stats: the retained area from intact down to the best constant predictor, chance, which does not depend
on the model; the mean metric lost over the grid; the mean log ratio), a direction only where every measure finds
it, Holm-corrected over the table. Half-failure levels and the crossover are description.
"""

import json
import os

import numpy as np

from robustness.analysis import QUESTIONS, counts_text, interval_text, level_text, pair_wording, row_text, \
    decide_table
from robustness.analysis.markdown import render_verdicts, table
from robustness.analysis.schema import write_summary
from robustness.comparison import Comparison, label_of
from robustness.kinds import KINDS
from robustness.plots import errorbar_lines, figure, legend_below, save, spread_words
from robustness.results import Table, read_rows
from robustness.runtime import parse_models, parse_pairs
from robustness.stats import CLASSIFIER_MEASURES, Curves, compare, curve_table, describe, half_failure_of

TABLE = Table('glue.csv',
              ('model', 'train_seed', 'task', 'kind', 'scope', 'layers', 'level', 'repeat', 'metric', 'value',
                           'floor', 'loss', 'sparsity', 'examples'),
              key=('model', 'train_seed', 'task', 'kind', 'scope', 'layers', 'level', 'repeat', 'metric'),
              renamed={'baseline': 'floor'})
CSV = TABLE.filename
QUESTION = QUESTIONS['run_glue_test']


def classifier_curves(rows, floor):
    """The Curves of one classifier's metric under one damage, its floor (chance) for every training seed; None
    where a (level, seed) cell is missing."""
    table = curve_table(rows, 'value')
    if table is None or table[0][0] != 0 or len(table[0]) < 2:
        return None
    return Curves(table[0], table[1], {'retained_area': [floor] * table[1].shape[1]}, higher_is_worse=False)


def summarize(frame, config, floors, rng):
    """summary.json's content: each classifier's intact score, half-failure levels, the verdict table."""
    labels = [label for label, _ in parse_models(config['models'])]
    metric, fraction = next(iter(floors)), config['failure_fraction']
    floor = floors[metric]  # the floor of a classifier: the best constant predictor
    first = frame[frame['metric'] == metric]
    combos = sorted(set(zip(first['kind'], first['scope'], first['layers'])))
    select = lambda label, combo: first[(first['model'] == label) & (first['kind'] == combo[0])
                                        & (first['scope'] == combo[1]) & (first['layers'] == combo[2])]
    summary = {'metric': metric, 'task': config['task'], 'floor': floor, 'measures': list(config['measures']),
               'rule': (f"every measure of docs/statistics.md of {metric} per training seed (retained area from "
                           f"intact down to the best constant predictor, {floor:.4f}; mean {metric} lost; mean log "
                           f"ratio); differences a - b (positive: a more robust), Welch t over the training seeds; a "
                           f"direction claimed only where every measure finds it, Holm-corrected over the table"),
               'secondary': f'half_failure_level: the level where {metric} has gone {fraction} of the way from intact '
                            f'to chance, mean over training seeds (None: not reached within the grid; a - b positive: '
                            f'a fails later)', 'equivalence_margin': config['equivalence_margin'],
               'relative_margin': config['relative_margin'], 'intact': {}, 'half_failure_level': []}
    for label in labels:  # the first metric of each classifier before any damage (level 0 is one measurement)
        intact = first[(first['model'] == label) & (first['level'] == 0)]
        summary['intact'][label] = {seed: float(value)
                                    for seed, value in intact.groupby('train_seed')['value'].first().items()}
        for combo in combos:
            curves = classifier_curves(select(label, combo), floor)
            if curves is not None:
                summary['half_failure_level'].append(dict(zip(('model', 'kind', 'scope', 'layers'), (label, *combo)),
                                                          **half_failure_of(curves, fraction)))
    comparisons = []
    for a, b in parse_pairs(config['compare'], labels):
        for combo in combos:
            curves = [classifier_curves(select(label, combo), floor) for label in (a, b)]
            if None in curves or curves[0].grid != curves[1].grid:
                continue
            draws = min(c.values.shape[2] for c in curves)  # the same draw indices pair the same damage
            curves = [Curves(c.grid, c.values[..., :draws], c.floors, False) for c in curves]
            comparisons.append(Comparison(
                a=a, b=b, kind=combo[0], scope=combo[1], layers=combo[2], decisive=tuple(config['measures']),
                measures=compare(*curves, CLASSIFIER_MEASURES, config['equivalence_margin'], config['relative_margin']),
                described=describe(*curves, fraction, config['bootstrap'], rng)))
    summary['comparisons'], answer = decide_table(comparisons, pair_wording)
    summary['answer'] = dict(question=QUESTION, **answer)
    return summary


def report(summary):
    for entry in summary['half_failure_level']:
        print(f"  half-failure {label_of(entry)}: {level_text(entry['level'])}")
    for row in summary['comparisons']:
        half = row.described['half_failure']
        print(row_text(row) + f"; half-failure a {level_text(half['a'])}, b {level_text(half['b'])}"
              + (f", a - b {half['difference']:+.3f} {interval_text(half['difference_ci95'], 3)}"
                 if half['difference'] is not None else ''))
    answer = summary['answer']
    print(f"  {answer['comparisons']} comparisons, Holm-corrected: {counts_text(answer)}")


def draw(frame, config, floors):
    """One figure per kind: a row of panels per (scope, layers), a column per metric and the loss."""
    metrics = [m for m in floors if m != 'loss']
    scopes = config['scope']
    task = config['task']
    for kind in config['kinds']:
        rows = frame[frame['kind'] == kind]
        present = set(zip(rows['scope'], rows['layers']))
        combos = [c for c in [('inputs', 'none'),
                              *((s, l) for s in scopes for l in config['layer_sets'])] if c in present]
        if not combos:
            continue
        fig, axes = figure(ncols=len(metrics) + 1, nrows=len(combos), width=5, height=3.8)
        for i in range(len(metrics) + 1, len(axes)):  # one y scale per column, to compare scopes and layers
            axes[i].sharey(axes[i % (len(metrics) + 1)])
        for r, (scope, layers) in enumerate(combos):
            combo = rows[(rows['scope'] == scope) & (rows['layers'] == layers)]
            where = 'inputs' if kind == 'distraction' else f'{scope} weights, {layers} layers'
            xlabel = KINDS[kind].label
            for c, metric in enumerate([*metrics, 'loss']):
                ax = axes[r * (len(metrics) + 1) + c]
                values = combo[combo['metric'] == metrics[0]] if metric == 'loss' else combo[combo['metric'] == metric]
                errorbar_lines(ax, values, 'level', 'loss' if metric == 'loss' else 'value', 'model', std_label=False)
                floor = ax.axhline(floors[metric], color='black', linestyle=':', linewidth=1.2,
                                   label=f'{"majority class" if metric == "accuracy" else "best constant"} '
                                         f'({floors[metric]:.3f})')
                ax.legend(handles=[floor], fontsize=9)
                ax.set_xlabel(xlabel)
                ax.set_ylabel(f'eval {metric}')
                ax.set_title(f'{task}: {kind.replace("_", " ")} ({where})', fontsize=10)
        legend_below(fig, axes[0],
                     spread_words(rows[rows['metric'] == metrics[0]], ['model', 'scope', 'layers', 'level']),
                     curves_only=True)
        save(fig, os.path.join(config['visuals_dir'], f'glue_{task}_{kind}.png'))


def analyze(out_dir, config):
    """Rewrite out_dir/summary.json and the figures from glue.csv; returns the summary."""
    with open(os.path.join(out_dir, 'floors.json')) as f:
        floors = json.load(f)  # the best constant predictor of each metric, the first metric first, then the loss
    labels = [label for label, _ in parse_models(config['models'])]
    frame = read_rows(os.path.join(out_dir, CSV), TABLE)
    frame = frame[(frame['task'] == config['task']) & frame['model'].isin(labels)]
    summary = summarize(frame, config, floors, np.random.default_rng(config['seed']))
    write_summary(out_dir, summary)
    report(summary)
    draw(frame, config, floors)
    return summary


def render(summary):
    """Each classifier's intact score next to its floor, chance (a classifier near chance has nothing to lose), then
    the comparisons."""
    text = ''
    floor = summary.get('floor', summary.get('chance'))  # 'chance' in summaries written before 2026-12-06
    if summary.get('intact'):
        rows = [[model, f"{sum(seeds.values()) / len(seeds):.3f}",
                 ', '.join(f"{seed}: {value:.3f}" if seed else f"{value:.3f}" for seed, value in seeds.items())]
                for model, seeds in summary['intact'].items() if seeds]
        text = (f"Intact {summary['metric']} on task `{summary.get('task')}` (floor: the best constant predictor, "
                f"{floor:.3f}):\n\n" + table(['model', 'mean', 'per training seed'], rows) + '\n\n')
    return text + render_verdicts(summary, summary['comparisons'], summary['measures'], summary['metric'])
