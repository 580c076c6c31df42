"""Matched intact quality for test_gpt2.py: the checkpoints of each reference model whose intact bits per byte bracket
the other model's, and the comparisons against the reference interpolated between them (never extrapolated).

    brackets = quality_brackets(frame, pairs, text)          # test_gpt2.py sweeps the bracketing checkpoints
    rows = matched_rows(scores, final, brackets, settings)   # the matched-quality table's rows
    rows = annealed_matched(frame, pairs, final, {'monolingual': ['mono_1000', 'mono_1600']}, settings)

Checkpoints are mid-schedule, their learning rate still high, where the final models are annealed: a confound of its
own. `annealed` names models of a reference's recipe annealed at shorter budgets, and the same bracketing runs among
them and the reference's final models only: annealed against annealed.
"""

import math
from dataclasses import replace

import numpy as np
import pandas as pd

from robustness.comparison import Comparison
from robustness.analysis.test_gpt2_csv import UNTRAINED, training_order
from robustness.analysis.test_gpt2_scores import Scores, comparison, design_pairs, final_comparison, other_unit
from robustness.stats import Interpolated, aligned


def intact_by_checkpoint(frame, text, order=training_order):
    """{(model, train_seed): [(checkpoint, intact bpb)]} of every trained checkpoint scored on `text`, in training
    order (`order`: a checkpoint's place)."""
    rows = frame[(frame['text'] == text) & (frame['level'] == 0) & (frame['checkpoint'] != UNTRAINED)]
    intact = rows.groupby(['model', 'train_seed', 'checkpoint'])['bpb'].first()
    by_model = {}
    for (model, seed, checkpoint), bpb in intact.items():
        by_model.setdefault((model, seed), []).append((checkpoint, float(bpb)))
    return {key: sorted(values, key=lambda item: order(item[0])) for key, values in by_model.items()}


def quality_brackets(frame, pairs, text, order=training_order):
    """For each compare pair (a, b): the quality to match, a's intact bpb on `text` (mean over its training seeds),
    and for each training seed of b the two consecutive checkpoints whose intact bpb brackets it, with the weight w
    of the later one (target = (1 - w) bpb(first) + w bpb(second)); None for a seed whose checkpoints do not
    bracket it: matched quality is never extrapolated. {(a, b): {'reference': b, 'target', 'seeds': {seed: (first,
    second, w) or None}, 'reference_final': b's final intact bpb (mean)}}; pairs without a's final score are left
    out."""
    intact = intact_by_checkpoint(frame, text, order)
    brackets = {}
    for a, b in pairs:
        finals = [dict(values)['final'] for (model, _), values in intact.items()
                  if model == a and 'final' in dict(values)]
        if not finals:
            continue
        target, seeds = sum(finals) / len(finals), {}
        references = [dict(values)['final'] for (model, _), values in intact.items()
                      if model == b and 'final' in dict(values)]
        for (model, seed), values in intact.items():
            if model != b:
                continue
            seeds[seed] = next(((first, second, (q1 - target) / (q1 - q2))
                                for (first, q1), (second, q2) in zip(values, values[1:])
                                if q1 >= target >= q2 and q1 > q2), None)
        brackets[a, b] = {'reference': b, 'target': target, 'seeds': seeds,
                          'reference_final': sum(references) / len(references) if references else None}
    return brackets


def matched_rows(scores, final, brackets, settings):
    """The comparisons at matched intact quality of the rows `final` (comparisons of the final models):
    a's final models against b interpolated, per training seed, between its two checkpoints whose intact bpb brackets
    a's mean (`brackets`: quality_brackets); a row says 'not bracketed' where a seed of b has no such pair: matched
    quality is never extrapolated. A pair whose final models' intact bpb differ by at most settings['matched_tolerance']
    of a's is matched already: its row compares the final models (mid-schedule checkpoints, still at a high learning
    rate, are no better a match than an annealed final model within the tolerance)."""
    rows, paired = [], {}
    for row in final:
        a, b, kind, scope = row.a, row.b, row.kind, row.scope
        if (a, b) not in paired:  # the design's pairing, once per pair
            paired[a, b] = design_pairs(scores, a, b, settings['primary_text'])
        pair = brackets.get((a, b))
        if pair is not None and pair['reference_final'] is not None and \
                abs(pair['reference_final'] - pair['target']) <= settings['matched_tolerance'] * pair['target']:
            row, _ = final_comparison(scores, a, b, kind, scope, settings, paired[a, b])
            if row is not None:  # matched already: the final models are the matched comparison
                rows.append(replace(row, design='matched quality: the final models, within matched_tolerance',
                                    described=dict(row.described, target_bpb=pair['target'],
                                                   reference_bpb=pair['reference_final'])))
            continue
        missing = [seed for seed, bracket in (pair or {'seeds': {}})['seeds'].items() if bracket is None]
        if pair is None or not pair['seeds'] or missing:
            rows.append(not_bracketed(pair, missing, a=a, b=b, kind=kind, scope=scope))
            continue
        seeds = sorted(pair['seeds'])
        first, second = ({seed: pair['seeds'][seed][i] for seed in seeds} for i in (0, 1))
        weights = np.array([pair['seeds'][seed][2] for seed in seeds])
        text = settings['primary_text']
        by_unit = [aligned(scores.curves(a, 'final', text, kind, scope, unit),
                           interpolated(scores, b, (first, second), weights, (text, kind, scope, unit)))
                   for unit in (settings['unit'], other_unit(settings['unit']))]
        if by_unit[0] is None:
            continue
        row = comparison(*by_unit[0], settings, by_unit[1], paired[a, b], a=a, b=b, kind=kind, scope=scope,
                         design='matched quality')
        brackets_of = {seed: {'first': first[seed], 'second': second[seed], 'weight': float(w)}
                       for seed, w in zip(seeds, weights)}
        rows.append(replace(row, described=dict(row.described, target_bpb=pair['target'], brackets=brackets_of)))
    return rows


def interpolated(scores, model, checkpoints, weights, damage):
    """A model's Interpolated curves between its checkpoints ({seed: earlier}, {seed: later}) under one damage (text,
    kind, scope, unit); None where either is missing."""
    first, second = (scores.curves(model, at, *damage) for at in checkpoints)
    return None if first is None or second is None else Interpolated(first, second, weights)


def not_bracketed(pair, missing, **identity):
    """A matched-quality row without a test: the reference's checkpoints do not bracket the quality to match."""
    reason = ('not bracketed: no checkpoints of the reference model were scored' if pair is None or not pair['seeds']
              else f"not bracketed: the checkpoints of training seeds {', '.join(map(str, missing))} do not reach "
                   f"{pair['target']:.4f} bits per byte from above (never extrapolated)")
    return Comparison(**identity, design='matched quality', reason=reason,
                      described={'target_bpb': None if pair is None else pair['target']})


def annealed_rows(frame, reference, budgets):
    """The reference's final models and untrained counterparts, and its recipe annealed at shorter budgets (`budgets`:
    the labels of those models) as if they were the reference's checkpoints, each named by its label."""
    own = frame[(frame['model'] == reference) & frame['checkpoint'].isin(['final', UNTRAINED])]
    shorter = frame[frame['model'].isin(budgets) & (frame['checkpoint'] == 'final')]
    return pd.concat([own, shorter.assign(checkpoint=shorter['model'], model=reference)], ignore_index=True)


def annealed_matched(frame, pairs, final, annealed, settings):
    """The rows `final` at matched intact quality against annealed models: for each pair (a, b) whose reference has
    annealed budgets (`annealed`: {b: labels of its recipe annealed at shorter budgets, shortest first}), b
    interpolated per training seed between the two annealed models (its final model the longest) whose intact bpb
    bracket a's, as matched_rows does between checkpoints."""
    rows = []
    for a, b in pairs:
        if b not in annealed:
            continue
        place = {label: i for i, label in enumerate(annealed[b])}
        models = pd.concat([frame[frame['model'] == a], annealed_rows(frame, b, annealed[b])], ignore_index=True)
        brackets = quality_brackets(models, [(a, b)], settings['primary_text'], lambda name: place.get(name, math.inf))
        pair = [row for row in final if (row.a, row.b) == (a, b)]
        for row in matched_rows(Scores(models), pair, brackets, settings):
            design = row.design.replace('matched quality', 'matched quality against annealed models', 1)
            rows.append(replace(row, design=design))
    return rows


def agreement(by_checkpoints, by_annealed):
    """Where the two matched-quality tables both decide a row: [{what it compares, its outcome against checkpoints,
    against annealed models}]."""
    outcomes = {row.identity: row.outcome for row in by_checkpoints}
    return [{'a': row.a, 'b': row.b, 'kind': row.kind, 'scope': row.scope,
             'against_checkpoints': outcomes[row.identity], 'against_annealed': row.outcome} for row in by_annealed
            if row.identity in outcomes and 'no verdict' not in (row.outcome, outcomes[row.identity])]

