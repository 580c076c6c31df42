"""test_gpt2.py's rows as scores: the index of a run's rows in both units with the floors they hold (Scores), and one
comparison of two models under one damage, every measure in the decision unit and the other unit beside it.

    scores = Scores(frame)                                   # frame: perplexity.csv's rows
    curves = scores.curves(model, 'final', text, kind, scope, 'byte')
    row, models = final_comparison(scores, a, b, kind, scope, settings, design_pairs(scores, a, b, text))
"""

import numpy as np

from robustness.comparison import Comparison
from robustness.analysis.test_gpt2_csv import UNTRAINED
from robustness.stats import LM_MEASURES, Curves, aligned, compare, curve_table, decompose
from robustness.sweep import FLOOR_KIND


UNIT_COLUMNS = {'byte': 'bpb', 'token': 'nats_per_token'}  # a unit's score column


UNIT_WORDS = {'byte': 'bits per byte', 'token': 'nats per token'}


class Scores:
    """The rows of one run, scored in both units, and the floors they hold: the scope zeroed (random deletion of
    every weight in scope, per model, training seed, checkpoint, text and scope) and the untrained counterpart (per
    model, training seed and text)."""

    def __init__(self, frame):
        self.frame = frame.assign(nats_per_token=frame['nll'] / frame['scored_tokens'])
        floors = self.frame[(self.frame['kind'] == FLOOR_KIND) & (self.frame['level'] == 1.0)]
        self.zeroed = floors.groupby(['model', 'train_seed', 'checkpoint', 'text',
                                      'scope'])[list(UNIT_COLUMNS.values())].first()
        untrained = self.frame[(self.frame['checkpoint'] == UNTRAINED) & (self.frame['level'] == 0)]
        self.untrained = untrained.groupby(['model', 'train_seed', 'text'])[list(UNIT_COLUMNS.values())].first()

    def rows(self, model, checkpoints, text, kind, scope):
        """The rows of `model` under one damage, each training seed at its checkpoint ({seed: checkpoint}, or one
        checkpoint for all)."""
        frame = self.frame
        rows = frame[(frame['model'] == model) & (frame['text'] == text) & (frame['kind'] == kind)
                     & (frame['scope'] == scope)]
        if isinstance(checkpoints, str):
            return rows[rows['checkpoint'] == checkpoints]
        return rows[[checkpoints.get(seed) == checkpoint for seed, checkpoint in zip(rows['train_seed'],
                                                                                     rows['checkpoint'])]]

    def curves(self, model, checkpoints, text, kind, scope, unit):
        """The Curves of `model` under one damage in `unit`, with the floors of its training seeds (the untrained
        one None where the run scored no untrained model); None where a (level, seed) cell or a zeroed floor is
        missing."""
        rows = self.rows(model, checkpoints, text, kind, scope)
        table = curve_table(rows, UNIT_COLUMNS[unit])
        if table is None or table[0][0] != 0 or len(table[0]) < 2:
            return None
        seeds = sorted(rows['train_seed'].unique())
        at = (lambda seed: checkpoints) if isinstance(checkpoints, str) else checkpoints.get
        keys = [(model, seed, at(seed), text, scope) for seed in seeds]
        if not all(key in self.zeroed.index for key in keys):
            return None
        untrained = [(model, seed, text) for seed in seeds]
        return Curves(table[0], table[1], {
            'retained_area': [float(self.zeroed.loc[key, UNIT_COLUMNS[unit]]) for key in keys],
            'retained_area_untrained': [float(self.untrained.loc[key, UNIT_COLUMNS[unit]]) for key in untrained]
            if all(key in self.untrained.index for key in untrained) else None}, higher_is_worse=True)

    def intact(self, model, checkpoint, text, column):
        """{training seed: the intact score in `column`} of a model's checkpoint on `text`."""
        rows = self.frame[(self.frame['model'] == model) & (self.frame['checkpoint'] == checkpoint)
                          & (self.frame['text'] == text) & (self.frame['level'] == 0)]
        return rows.groupby('train_seed')[column].first().to_dict()


def comparison(curves_a, curves_b, settings, other, paired=False, **identity):
    """One row of a table (`identity`: what it compares, robustness.comparison.Comparison's fields): every measure of
    two models' Curves in the decision unit, the declared ones decisive, and the same measures in the other unit
    (`other`: their Curves in that unit, or None)."""
    margins = settings['equivalence_margin'], settings['relative_margin']
    measures = compare(curves_a, curves_b, LM_MEASURES, *margins, paired)
    described = {'unit': settings['unit'], 'decomposition': decompose(curves_a, curves_b)}
    headline = measures[settings['measures'][0]]
    values = [headline.get('a') or [], headline.get('b') or []]
    if paired and len(values[0]) > 2 and all(np.std(side) > 0 for side in values):
        described['seed_correlation'] = float(np.corrcoef(*values)[0, 1])  # what pairing gains
    other_measures = None if other is None else {'unit': other_unit(settings['unit']),
                                                  'measures': compare(*other, LM_MEASURES, *margins, paired)}
    return Comparison(**identity, measures=measures, decisive=tuple(settings['measures']), described=described,
                      other_unit=other_measures)


def other_unit(unit):
    return 'token' if unit == 'byte' else 'byte'


def tokens_of(scores, model, text):
    """{training seed: tokens} the model's tokenizer cuts the text into."""
    return scores.intact(model, 'final', text, 'scored_tokens')


def final_comparison(scores, a, b, kind, scope, settings, paired):
    """(The comparison of a's and b's final models on the primary text under one damage, their aligned Curves), or
    (None, None) where either lacks curves; `paired`: over the training seeds (design_pairs)."""
    text, unit = settings['primary_text'], settings['unit']
    models = aligned(*(scores.curves(m, 'final', text, kind, scope, unit) for m in (a, b)))
    if models is None:
        return None, None
    other = aligned(*(scores.curves(m, 'final', text, kind, scope, other_unit(unit)) for m in (a, b)))
    return comparison(*models, settings, other, paired, a=a, b=b, kind=kind, scope=scope), models


def design_pairs(scores, a, b, text):
    """The pairing rule declared in docs/statistics.md: a and b are tested paired over their training seeds exactly
    when the design pairs them, both with the same training seeds (at least two) and the same tokens of the text (one
    tokenizer: train_bilingual_gpt2.py then gives the models of a seed one initialisation; every model gets the
    same masks at the same seed); otherwise Welch."""
    seeds = [sorted(scores.frame[scores.frame['model'] == m]['train_seed'].unique()) for m in (a, b)]
    tokens = [tokens_of(scores, m, text) for m in (a, b)]
    return seeds[0] == seeds[1] and len(seeds[0]) >= 2 and tokens[0] == tokens[1] and tokens[0] != {}
