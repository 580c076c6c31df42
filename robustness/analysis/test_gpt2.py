"""test_gpt2.py's summary and figures, from out_dir/perplexity.csv and the run's settings.

Every comparison (a - b, kind, scope) is decided under the declared measures (robustness.stats: retained areas
against the scope zeroed and against the untrained model, mean excess loss, mean log ratio), in the decision unit
(`unit`, bits per byte by default), with the other unit beside it, and Holm-corrected over its table. Three tables:
the final models on the primary text; the same pairs at matched intact quality (the reference model interpolated
between the two checkpoints that bracket the other's intact bpb); and, for each first model of a pair, its primary
text against its second one (does it lose its second language first?). Half-failure levels, the crossover of the
curves, the per-level differences and the spreads of draws and seeds are description.
"""

import json
import math
import os
from dataclasses import replace

import numpy as np
import pandas as pd

from robustness.analysis import MEASURE_WORDS, counts_text, level_text, pair_wording, row_text, decide_table
from robustness.analysis.schema import write_summary
from robustness.comparison import find, label_of
from robustness.analysis.test_gpt2_csv import (CHANCE_FILE, CSV, TABLE, TASK_TABLE, UNTRAINED, layers_text,
                                               training_order)
from robustness.analysis.test_gpt2_figures import (COST_FIGURE, FRONTIER_FIGURE, LANGUAGES_FIGURE, draw, draw_costs,
                                                   draw_frontier, draw_languages, draw_task)
from robustness.analysis.test_gpt2_quality import agreement, annealed_matched, matched_rows, quality_brackets
from robustness.analysis.test_gpt2_scores import (UNIT_WORDS, Scores, comparison, design_pairs, final_comparison,
                                                  other_unit, tokens_of)
from robustness.analysis.test_gpt2_tasks import task_tables
from robustness.config import check
from robustness.results import read_rows
from robustness.runtime import parse_models, parse_pairs
from robustness.scopes import SCOPES
from robustness.settings import annealed_budgets, confirmatory_rows
from robustness.stats import MEASURES, Curves, aligned, curve_table, describe, half_failure_of, interval_at
from robustness.sweep import FLOOR_KIND


def scope_cost(rows, labels):
    """How much each scope matters to each model, from the rows of one checkpoint: per training seed, the intact bpb
    and the bpb with every weight of the scope zeroed (the floor rows), and their ratio. {model: {scope: {'intact',
    'zeroed', 'ratio'}}}, per-seed lists in training-seed order; seeds without an intact row are left out."""
    intact = rows[rows['level'] == 0].groupby(['model', 'train_seed'])['bpb'].first()
    zeroed = rows[(rows['kind'] == FLOOR_KIND) & (rows['level'] == 1.0) & rows['model'].isin(labels)
                  & pd.MultiIndex.from_frame(rows[['model', 'train_seed']]).isin(intact.index)]
    cost = {}
    for (model, scope), floors in sorted(zeroed.groupby(['model', 'scope']),
                                         key=lambda group: SCOPES.index(group[0][1])):
        floors = floors.sort_values('train_seed')
        before = [float(intact[model, seed]) for seed in floors['train_seed']]
        cost.setdefault(model, {})[scope] = {'train_seeds': list(floors['train_seed']), 'intact': before,
                                             'zeroed': [float(x) for x in floors['bpb']],
                                             'ratio': [float(z / i) for z, i in zip(floors['bpb'], before)]}
    return cost


def scope_cost_by_checkpoint(frame, checkpoint_tokens, labels):
    """The scope cost (bpb with the scope zeroed / intact) of every model, training seed, checkpoint and scope, with
    the training tokens the checkpoint had seen (`checkpoint_tokens`: checkpoints.csv's rows). A DataFrame, sorted."""
    records = [(model, seed, checkpoint, scope, intact, ratio) for checkpoint, rows in frame.groupby('checkpoint')
               for model, scopes in scope_cost(rows, labels).items() for scope, cost in scopes.items()
               for seed, intact, ratio in zip(cost['train_seeds'], cost['intact'], cost['ratio'])]
    costs = pd.DataFrame(records, columns=['model', 'train_seed', 'checkpoint', 'scope', 'intact', 'ratio'])
    return costs.merge(checkpoint_tokens, on=['model', 'train_seed', 'checkpoint']).sort_values(
        ['model', 'scope', 'tokens', 'train_seed'], ignore_index=True)


def cost_curves(costs):
    """summary.json's form of the scope cost by checkpoint: {model: {scope: [{step, tokens, en_tokens, and per training
    seed: intact bpb, ratio}]}}, by step."""
    curves = {}
    for (model, scope, step, tokens,
         en_tokens), rows in costs.groupby(['model', 'scope', 'step', 'tokens', 'en_tokens'],
                                                                         sort=True):
        curves.setdefault(model, {}).setdefault(scope, []).append(
            {'step': int(step), 'tokens': int(tokens), 'en_tokens': int(en_tokens),
             'train_seeds': list(rows['train_seed']), 'intact': [float(b) for b in rows['intact']],
             'ratio': [float(r) for r in rows['ratio']]})
    return curves


def at_row_level(row, alpha=0.05):
    """The row with the other unit's intervals at its Holm level, and the decisive measures whose sign changes with
    the unit."""
    if row.other_unit is None:
        return row
    measures = {name: interval_at(entry, row.holm_level or alpha) for name, entry in row.other_unit['measures'].items()}
    return replace(row, other_unit=dict(row.other_unit, measures=measures), unit_dependent=tuple(
        m for m in row.decided_by if measures[m]['sign'] != row.measures[m]['sign']))


def final_rows(scores, pairs, config, settings, rng):
    """The comparisons of the final models on the primary text, each pair under each damage."""
    rows, text = [], settings['primary_text']
    for a, b in pairs:
        same = tokens_of(scores, a, text) == tokens_of(scores, b, text) and tokens_of(scores, a, text) != {}
        paired = design_pairs(scores, a, b, text)
        for kind in config['kinds']:
            for scope in config['scope']:
                row, models = final_comparison(scores, a, b, kind, scope, settings, paired)
                if row is None:
                    continue
                rows.append(replace(row, described=dict(row.described, same_tokenizer=same, **describe(
                    *models, config['failure_fraction'], config['bootstrap'], rng)), other_unit=None
                    if row.other_unit is None else dict(row.other_unit, comparable=same)))
    return rows


# Bits per byte of two scripts are not comparable (a Cyrillic letter is two bytes, a Latin one one), nor per token
# across a tokenizer's two languages: the second language is described until a model of its own is the reference.
SECOND_LANGUAGE_REASON = ('description only: the two texts are in other scripts, whose bits per byte (and tokens) are '
                          'not comparable; a model trained on the second language alone is the reference it needs')


def second_language_rows(scores, pairs, config, settings):
    """For each first model of a pair, its primary text against its second one, per training seed (paired):
    described, never decided (SECOND_LANGUAGE_REASON). Positive: it keeps the primary text better."""
    rows, total = [], []
    if len(settings['texts']) < 2:
        return rows, total
    primary, second = settings['texts'][:2]
    for model in dict.fromkeys(a for a, _ in pairs):
        for kind in config['kinds']:
            for scope in config['scope']:
                by_unit = [aligned(*(scores.curves(model, 'final', text, kind, scope, u) for text in (primary, second)))
                           for u in (settings['unit'], other_unit(settings['unit']))]
                if by_unit[0] is None:
                    continue
                rows.append(comparison(*by_unit[0], settings, by_unit[1], paired=True, model=model, a=primary,
                                       b=second, kind=kind, scope=scope, design='second language',
                                       reason=SECOND_LANGUAGE_REASON))
                kept = both_languages(scores, model, (primary, second), kind, scope)
                if kept is not None:
                    total.append(dict(model=model, kind=kind, scope=scope, **kept))
    return rows, total


def both_languages(scores, model, texts, kind, scope):
    """What a model keeps over both texts together: per training seed, the retained area of its bits per byte over
    both (summed NLL over summed bytes) against the floor over both."""
    frame = scores.frame
    rows = frame[(frame['model'] == model) & (frame['checkpoint'] == 'final') & frame['text'].isin(texts)]
    summed = (rows.groupby(['kind', 'scope', 'level', 'train_seed', 'repeat'], as_index=False)
              .agg(nll=('nll', 'sum'), bytes=('bytes', 'sum'), texts=('text', 'nunique')))
    summed = summed[summed['texts'] == len(texts)].assign(bpb=lambda r: r['nll'] / math.log(2) / r['bytes'])
    table = curve_table(summed[(summed['kind'] == kind) & (summed['scope'] == scope)], 'bpb')
    floor = summed[(summed['kind'] == FLOOR_KIND) & (summed['scope'] == scope) & (summed['level'] == 1.0)]
    floors = floor.groupby('train_seed')['bpb'].first()
    seeds = sorted(summed['train_seed'].unique())
    if table is None or table[0][0] != 0 or not all(seed in floors.index for seed in seeds):
        return None
    areas = Curves(table[0], table[1], {'retained_area': [float(floors[seed]) for seed in seeds]},
                   True).per_seed(MEASURES['retained_area'])
    return {'retained_area': float(np.mean(areas)), 'per_seed': [float(x) for x in areas]}


def spreads(scores, labels, config, text):
    """How much of a level's spread is the draws' and how much the training seeds': per model, kind and scope, the
    median over the damaged levels with several draws of the draw-to-draw standard deviation of bits per byte
    (within a seed, averaged over the seeds) and of the seed-to-seed one (of the draw means)."""
    by_damage = []
    for model in labels:
        for kind in config['kinds']:
            for scope in config['scope']:
                curves = scores.curves(model, 'final', text, kind, scope, 'byte')
                if curves is None or curves.values.shape[2] < 2 or curves.values.shape[1] < 2:
                    continue
                values = curves.values[1:]
                varied = values.std(axis=2, ddof=1).mean(axis=1) > 0
                if not varied.any():
                    continue
                draws = float(np.median(values.std(axis=2, ddof=1).mean(axis=1)[varied]))
                seeds = float(np.median(values.mean(axis=2).std(axis=1, ddof=1)[varied]))
                by_damage.append({'model': model, 'kind': kind, 'scope': scope, 'draws': draws, 'seeds': seeds})
    return by_damage


def facts(scores, labels, pairs, config, settings):
    """What every answer rests on: each model's intact score in both units and the bytes per token of its tokenizer
    on the primary text, its floors (the scope zeroed, the untrained model) and range, whether each pair shares a
    tokenizer (the same tokens of the same text)."""
    text, rests_on = settings['primary_text'], {'models': {}, 'pairs': {}}
    for model in labels:
        intact_bpb = scores.intact(model, 'final', text, 'bpb')
        if not intact_bpb:
            continue
        tokens, nats = scores.intact(model, 'final', text, 'scored_tokens'), scores.intact(model, 'final', text,
                                                                                    'nats_per_token')
        n_bytes = scores.intact(model, 'final', text, 'bytes')
        seeds = sorted(intact_bpb)
        untrained = [scores.untrained.loc[(model, seed, text), 'bpb'] for seed in seeds
                     if (model, seed, text) in scores.untrained.index]
        zeroed = {scope: float(np.mean([scores.zeroed.loc[(model, seed, 'final', text, scope), 'bpb'] for seed in seeds
                                        if (model, seed, 'final', text, scope) in scores.zeroed.index] or [np.nan]))
                  for scope in config['scope']}
        bpb = float(np.mean(list(intact_bpb.values())))
        rests_on['models'][model] = {
            'intact_bpb': bpb, 'intact_nats_per_token': float(np.mean(list(nats.values()))),
            'bytes_per_token': float(np.mean([n_bytes[seed] / tokens[seed] for seed in seeds])),
            'untrained_bpb': float(np.mean(untrained)) if len(untrained) == len(seeds) else None,
            'zeroed_bpb': zeroed, 'range_bpb': {scope: value - bpb for scope, value in zeroed.items()}}
    for a, b in pairs:
        rests_on['pairs'][f'{a} - {b}'] = {'same_tokenizer': tokens_of(scores, a, text) == tokens_of(scores, b, text)}
    return rests_on


def unit_picture(rows, unit):
    """How the mean excess reads in each unit over a table's decided rows: {'byte': {'+': n, '-': n, '0': n},
    'token': {...}} (each at the row's Holm level), and the rows where the two disagree."""
    counts = {u: {'+': 0, '-': 0, '0': 0} for u in (unit, other_unit(unit))}
    disagree = []
    for row in rows:
        if row.holm_level is None or row.other_unit is None:
            continue
        signs = {unit: row.measures['mean_excess']['sign'],
                 other_unit(unit): row.other_unit['measures']['mean_excess']['sign']}
        for u, sign in signs.items():
            if sign:
                counts[u][sign] += 1
        if signs[unit] != signs[other_unit(unit)]:
            disagree.append(row.label)
    return {'counts': counts, 'disagree': disagree}


def summarize(frame, config, settings, rng, costs=None):
    """summary.json's content: what the answers rest on, the three tables and their answers, the description."""
    labels = [label for label, _ in parse_models(config['models'])]
    pairs = parse_pairs(config['compare'], labels)
    scores = Scores(frame)
    final = frame[(frame['checkpoint'] == 'final') & (frame['text'] == settings['primary_text'])]
    summary = {'metric': UNIT_WORDS[settings['unit']], 'unit': settings['unit'], 'texts': settings['texts'],
               'measures': list(settings['measures']), 'rule': (
                   f"every measure of docs/statistics.md per training seed "
                   f"({', '.join(MEASURE_WORDS[m] for m in settings['measures'])}), "
                   f"in {UNIT_WORDS[settings['unit']]}; differences a - b (positive: a more robust), Welch t over the "
                   f"training seeds; a direction claimed only where every measure finds it (intersection-union test), "
                   f"Holm-corrected over each table"),
               'secondary': f"half_failure_level: the level where bpb has gone {config['failure_fraction']} of the way "
                            f"from intact to the floor, mean over training seeds (None: not reached within the grid; "
                            f"a - b positive: a fails later); crossover: where the mean curves cross; "
                            f"retained_fraction_difference: per level", 'layers': layers_text(config['layers']),
               'equivalence_margin': settings['equivalence_margin'], 'relative_margin': settings['relative_margin'],
               'matched_tolerance': settings['matched_tolerance'],
               'facts': facts(scores, labels, pairs, config, settings),
               'scope_cost': scope_cost(final, labels),
               'spread': spreads(scores, labels, config, settings['primary_text']),
               'half_failure_level': []}
    if costs is not None and len(costs):
        summary['scope_cost_by_checkpoint'] = cost_curves(costs)
    for label in labels:
        for kind in config['kinds']:
            for scope in config['scope']:
                curves = scores.curves(label, 'final', settings['primary_text'], kind, scope, 'byte')
                if curves is not None:
                    summary['half_failure_level'].append(dict(model=label, kind=kind, scope=scope, **half_failure_of(
                        curves, config['failure_fraction'])))
    final = final_rows(scores, pairs, config, settings, rng)
    # the declared family, decided on its own (Holm over it alone) before the table decides every row
    family = confirmatory_rows(config.get('confirmatory', []), pairs, config['kinds'], config['scope'])
    missing = [label_of(declared) for declared in family if find(final, **declared) is None]
    check(not missing, f"confirmatory: the run has no curves for {', '.join(missing)}")
    summary['confirmatory'], summary['confirmatory_answer'] = decided(
        [find(final, **declared) for declared in family], pair_wording, pair_question(
            pairs, settings['primary_text'], 'In the confirmatory family declared before the run')
    ) if family else ([], None)
    summary['comparisons'], summary['answer'] = decided(final, pair_wording,
                                                        pair_question(pairs, settings['primary_text']))
    summary['answer']['unit_picture'] = unit_picture(summary['comparisons'], settings['unit'])
    # only where the run swept the bracketing checkpoints: without them every row would be 'not bracketed'
    matched = config.get('matched_quality', True) and config.get('checkpoints', True)
    brackets = quality_brackets(frame, pairs, settings['primary_text']) if matched else {}
    summary['matched_quality'], summary['matched_quality_answer'] = decided(
        matched_rows(scores, final, brackets, settings) if matched else [], pair_wording,
        pair_question(pairs, settings['primary_text'], 'At matched intact quality'))
    annealed = annealed_budgets(config.get('annealed', []), labels)
    if annealed:  # the reference's recipe annealed at shorter budgets: matched quality, annealed against annealed
        rows, answer = decided(annealed_matched(frame, pairs, final, annealed, settings), pair_wording, pair_question(
            pairs, settings['primary_text'], 'At matched intact quality against annealed models'))
        summary['matched_quality_annealed'], summary['matched_quality_annealed_answer'] = rows, answer
        summary['matched_agreement'] = agreement(summary['matched_quality'], rows)
    language, summary['both_languages'] = second_language_rows(scores, pairs, config, settings)
    first_models = ', '.join(dict.fromkeys(a for a, _ in pairs))
    summary['second_language'], summary['second_language_answer'] = decided(
        language, language_wording, f"How does {first_models} keep its two texts under damage?")
    return summary


def decided(rows, wording, question):
    """Decide a table (decide_table) and give its rows the other unit's intervals at their level: (the decided
    rows, its answer)."""
    rows, answer = decide_table(rows, wording)
    return [at_row_level(row) for row in rows], dict(question=question, **answer)


def pair_question(pairs, text, condition='Under weight damage'):
    """The question of a table of pairs a - b, naming the models as the run names them."""
    compared = '; '.join(f'{a} than {b}' for a, b in pairs)
    return f"{condition}, does the first model of each pair keep more of its text {text} ({compared})?"


def language_wording(row):
    return (f'{row.model} keeps {row.a} better ({row.b} goes first)',
            f'{row.model} keeps {row.b} better ({row.a} goes first)')


def report(summary):
    """The summary in lines, for the terminal."""
    for entry in summary['half_failure_level']:
        print(f"  half-failure {label_of(entry)}: "
              + (level_text(entry['level']) if entry['reached'] else
                 f"not reached within the grid (top level {entry['grid_top']})"))
    for table, answer in (('confirmatory', 'confirmatory_answer'), ('comparisons', 'answer'),
                          ('matched_quality', 'matched_quality_answer'),
                          ('second_language', 'second_language_answer')):
        if summary[table]:
            print(f"{summary[answer]['question']}")
        for row in summary[table]:
            print(row_text(row))
        if summary[table]:
            print(f"  {summary[answer]['comparisons']} comparisons, Holm-corrected: {counts_text(summary[answer])}")


def frontier(scores, labels, config, text, measure):
    """Robustness against intact quality: per model, checkpoint with a full sweep, kind, scope and training seed, the
    intact bpb on `text` and `measure` (bits per byte). A DataFrame."""
    records = []
    for model in labels:
        checkpoints = sorted(set(scores.frame[(scores.frame['model'] == model)]['checkpoint']) - {UNTRAINED},
                             key=training_order)
        for checkpoint in checkpoints:
            for kind in config['kinds']:
                for scope in config['scope']:
                    curves = scores.curves(model, checkpoint, text, kind, scope, 'byte')
                    if curves is None or len(curves.grid) < 3:
                        continue
                    values = curves.per_seed(MEASURES[measure])
                    records += [(model, checkpoint, kind, scope, intact, value)
                                for intact, value in zip(curves.intact(), values)]
    return pd.DataFrame(records, columns=['model', 'checkpoint', 'kind', 'scope', 'intact', 'value'])


def analyze(out_dir, config):
    """Rewrite out_dir/summary.json and the figures from perplexity.csv (and checkpoints.csv, where the models came
    from train_bilingual_gpt2.py); returns the summary."""
    labels = [label for label, _ in parse_models(config['models'])]
    texts = [label for label, _ in parse_models(config['eval_files'], 'eval_files')]
    settings = {'texts': texts, 'primary_text': texts[0], 'unit': config['unit'], 'measures': config['measures'],
                'equivalence_margin': config['equivalence_margin'], 'relative_margin': config['relative_margin'],
                'matched_tolerance': config['matched_tolerance']}
    frame = read_rows(os.path.join(out_dir, CSV), TABLE)
    frame = frame[(frame['layers'].astype(str) == layers_text(config['layers'])) & frame['model'].isin(labels)]
    pairs = parse_pairs(config['compare'], labels)
    check_unit(settings['unit'],
               {label: tokens_of(Scores(frame[frame['level'] == 0]), label, texts[0]) for label in labels},
               pairs, texts[0])
    primary = frame[(frame['text'] == texts[0]) & (frame['checkpoint'] != UNTRAINED)]
    tokens_path = os.path.join(out_dir, 'checkpoints.csv')
    costs = scope_cost_by_checkpoint(primary, read_rows(tokens_path), labels) if os.path.exists(tokens_path) else None
    summary = summarize(frame, config, settings, np.random.default_rng(config['seed']), costs)
    tasks_path = os.path.join(out_dir, TASK_TABLE.filename)
    if os.path.exists(tasks_path):
        task_rows = read_rows(tasks_path, TASK_TABLE)
        task_rows = task_rows[(task_rows['layers'].astype(str) == layers_text(config['layers']))
                              & task_rows['model'].isin(labels)]
        chance_path = os.path.join(out_dir, 'lm_eval', CHANCE_FILE)
        chances = json.load(open(chance_path)) if os.path.exists(chance_path) else {}
        summary['tasks'] = task_tables(task_rows, chances, pairs, config, settings,
                                       np.random.default_rng(config['seed']))
        for table in summary['tasks']:
            task, metric = table['task'], table['metric']
            draw_task(task_rows[(task_rows['task'] == task) & (task_rows['metric'] == metric)], table, config,
                      os.path.join(config['visuals_dir'], f"gpt2_task_{task}_{metric.replace(',', '_')}.png"))
    write_summary(out_dir, summary)
    report(summary)
    draw(primary, summary, config)
    if costs is not None and len(costs):
        draw_costs(costs, os.path.join(config['visuals_dir'], COST_FIGURE))
    # the headline measure against quality: the first decisive one the run measured (no untrained rows: the next)
    scored_untrained = (frame['checkpoint'] == UNTRAINED).any()
    measured = [m for m in config['measures'] if m != 'retained_area_untrained' or scored_untrained]
    headline = (measured or ['mean_excess'])[0]
    points = frontier(Scores(frame), labels, config, texts[0], headline)
    if points['checkpoint'].nunique() > 1:
        draw_frontier(points, headline, os.path.join(config['visuals_dir'], FRONTIER_FIGURE))
    if len(texts) > 1:
        draw_languages(Scores(frame), list(dict.fromkeys(a for a, _ in pairs)), config, texts,
                       os.path.join(config['visuals_dir'], LANGUAGES_FIGURE))
    return summary


def check_unit(unit, tokens, pairs, text):
    """Per token compares two models only where they cut the text into the same tokens (one tokenizer): a one-line
    error for unit=token otherwise. `tokens`: {model: {training seed: tokens of `text`}}."""
    for a, b in pairs:
        check(unit != 'token' or tokens[a] == tokens[b],
              f"unit: per token compares models only within one tokenizer, and {a} and {b} cut {text} into "
              f"{sorted(set(tokens[a].values()))} and {sorted(set(tokens[b].values()))} tokens; use unit=byte")
