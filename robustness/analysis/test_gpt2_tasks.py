"""test_gpt2.py's lm-eval task tables: per task and metric, the pairs' verdicts under the same rule as bits per byte,
the floor of a metric that rises with ability its chance level, of a loss the score with the scope zeroed.
"""

from robustness.analysis import decide_table, pair_wording
from robustness.analysis.test_gpt2_csv import UNTRAINED
from robustness.comparison import Comparison
from robustness.stats import LM_MEASURES, Curves, aligned, compare, curve_table, describe
from robustness.sweep import FLOOR_KIND

def task_curves(rows, checkpoint_floors, untrained, higher_is_worse):
    """The Curves of one model under one damage on one task metric (column `value`), with its floors per training
    seed: `checkpoint_floors` ({seed: floor}: chance, or the scope zeroed) and the untrained model's score."""
    table = curve_table(rows, 'value')
    seeds = sorted(rows['train_seed'].unique())
    if table is None or table[0][0] != 0 or len(table[0]) < 2 or not all(seed in checkpoint_floors for seed in seeds):
        return None
    return Curves(table[0], table[1], {
        'retained_area': [checkpoint_floors[seed] for seed in seeds],
        'retained_area_untrained': [untrained[seed] for seed in seeds] if all(seed in untrained for seed in seeds)
        else None}, higher_is_worse)


def task_kinds(config):
    """The kinds whose trials ran the lm-eval tasks (older runs: every kind); the others hold only the intact and
    floor rows of a task, no curve."""
    return [kind for kind in config['kinds'] if not config.get('lm_eval_kinds') or kind in config['lm_eval_kinds']]


def task_tables(frame, chances, pairs, config, settings, rng):
    """A verdict table per lm-eval task and metric (tasks.csv), decided by the same rule as bits per byte: the floor of
    a metric that rises with ability is the task's chance level, of a loss the score with the scope zeroed: a list of
    {'task', 'metric', ..., 'comparisons', 'answer'}."""
    tables = []
    for (task, metric), rows in frame.groupby(['task', 'metric'], sort=True):
        higher_is_better = str(rows['higher_is_better'].iloc[0]) == 'True'
        chance = chances.get(task) if higher_is_better else None
        final = rows[rows['checkpoint'] == 'final']
        zeroed = final[(final['kind'] == FLOOR_KIND) & (final['level'] == 1.0)]
        untrained = rows[(rows['checkpoint'] == UNTRAINED) & (rows['level'] == 0)]
        comparisons = []
        for a, b in pairs:
            for kind in task_kinds(config):
                for scope in config['scope']:
                    curves = []
                    for model in (a, b):
                        part = final[(final['model'] == model) & (final['kind'] == kind) & (final['scope'] == scope)]
                        own = zeroed[(zeroed['model'] == model) & (zeroed['scope'] == scope)]
                        floors = (dict.fromkeys(part['train_seed'].unique(), chance) if chance is not None else
                                  own.groupby('train_seed')['value'].first().to_dict())
                        curves.append(task_curves(part, floors, untrained[untrained['model'] == model].groupby(
                            'train_seed')['value'].first().to_dict(), not higher_is_better))
                    models = aligned(*curves)
                    if models is None:
                        continue
                    comparisons.append(Comparison(
                        a=a, b=b, kind=kind, scope=scope, decisive=tuple(settings['measures']),
                        measures=compare(*models, LM_MEASURES, settings['equivalence_margin'],
                                         settings['relative_margin']),
                        described=describe(*models, config['failure_fraction'], config['bootstrap'], rng)))
        comparisons, answer = decide_table(comparisons, pair_wording)
        tables.append({'task': task, 'metric': metric, 'higher_is_better': higher_is_better, 'chance': chance,
                       'floor': f'chance, {chance:.3f}' if chance is not None else 'the scope zeroed',
                       'intact': final[final['level'] == 0].groupby('model')['value'].mean().to_dict(),
                       'comparisons': comparisons, 'answer': dict(
                           question=f'On lm-eval task {task} ({metric}), are bilingual models more robust?', **answer)})
    return tables
