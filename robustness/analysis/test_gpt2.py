"""test_gpt2.py's summary and figures, from out_dir/perplexity.csv and the run's settings.

The primary statistic of each comparison (a - b, kind, scope) is the difference in retained area of bits per byte
(robustness.stats), tested over the training seeds and Holm-corrected over the table. Half-failure levels, the
crossover of the bpb curves and the per-level differences in retained fraction are description.
"""

import math
import os
import sys

import numpy as np
import pandas as pd

from robustness import plots
from robustness.analysis import (QUESTIONS, counts_text, interval_text, level_text, pair_verdicts, read_rows, row_text,
                                 write_summary)
from robustness.perturb import KIND_TABLE, SCOPES
from robustness.results import Table
from robustness.runtime import parse_models, parse_pairs
from robustness.stats import compare_rows, half_failure_of
from robustness.sweep import FLOOR_KIND

TABLE = Table('perplexity.csv', ('model', 'train_seed', 'checkpoint', 'text', 'kind', 'scope', 'layers', 'level',
                                 'repeat', 'nll', 'tokens', 'bytes', 'ppl', 'bpb', 'sparsity', 'seconds'),
              key=('model', 'train_seed', 'checkpoint', 'text', 'kind', 'scope', 'layers', 'level', 'repeat'),
              added={'text': 'en'})  # runs before eval_files scored one text, English
CSV = TABLE.filename
UNTRAINED = 'untrained'  # the checkpoint name of a model's untrained counterpart
CHECKPOINT_COLUMNS = ['model', 'train_seed', 'checkpoint', 'step', 'tokens', 'en_tokens']  # checkpoints.csv
COST_FIGURE = 'gpt2_scope_cost.png'
USES_CONTEXT = 1.2  # attention cost (bpb with attention zeroed / intact) from which a model counts as using its context
QUESTION = QUESTIONS['test_gpt2']
FIGURES = {'random_deletion': ('gpt2_random_delete.png', 'Random weight deletion probability'),
           'magnitude_pruning': ('gpt2_magnitude_deletion.png', 'Magnitude-based weight pruning fraction'),
           'global_magnitude_pruning': ('gpt2_global_magnitude_deletion.png', 'Global magnitude pruning fraction'),
           'gaussian_noise': ('gpt2_weight_noise.png', 'Weight noise std'),
           'neuron_deletion': ('gpt2_neuron_delete.png', 'Neuron deletion probability'),
           'head_deletion': ('gpt2_head_delete.png', 'Attention head deletion probability'),
           'nm_pruning': ('gpt2_nm_pruning.png', 'N:M pruning fraction'),
           'wanda_pruning': ('gpt2_wanda_pruning.png', 'Wanda pruning fraction (per output row)')}


def training_order(checkpoint):
    """Where a checkpoint comes in training: step_<n> at n, the final model last."""
    return int(checkpoint[len('step_'):]) if checkpoint.startswith('step_') else float('inf')


def intact_by_checkpoint(frame, text):
    """{(model, train_seed): [(checkpoint, intact bpb)]} of every trained checkpoint scored on `text`, in training
    order."""
    rows = frame[(frame['text'] == text) & (frame['level'] == 0) & (frame['checkpoint'] != UNTRAINED)]
    intact = rows.groupby(['model', 'train_seed', 'checkpoint'])['bpb'].first()
    found = {}
    for (model, seed, checkpoint), bpb in intact.items():
        found.setdefault((model, seed), []).append((checkpoint, float(bpb)))
    return {unit: sorted(values, key=lambda item: training_order(item[0])) for unit, values in found.items()}


def quality_brackets(frame, pairs, text):
    """For each compare pair (a, b): the quality to match, a's intact bpb on `text` (mean over its training seeds),
    and for each training seed of b the two consecutive checkpoints whose intact bpb brackets it, with the weight w
    of the later one (target = (1 - w) bpb(first) + w bpb(second)); None for a seed whose checkpoints do not
    bracket it: matched quality is never extrapolated. {(a, b): {'reference': b, 'target', 'seeds': {seed: (first,
    second, w) or None}}}; pairs without a's final score are left out."""
    intact = intact_by_checkpoint(frame, text)
    found = {}
    for a, b in pairs:
        finals = [dict(values)['final'] for (model, _), values in intact.items() if model == a and 'final' in dict(values)]
        if not finals:
            continue
        target, seeds = sum(finals) / len(finals), {}
        for (model, seed), values in intact.items():
            if model != b:
                continue
            seeds[seed] = next(((first, second, (q1 - target) / (q1 - q2))
                                for (first, q1), (second, q2) in zip(values, values[1:])
                                if q1 >= target >= q2 and q1 > q2), None)
        found[a, b] = {'reference': b, 'target': target, 'seeds': seeds}
    return found


def layers_text(layers):
    return ','.join(map(str, sorted(layers))) if layers else 'all'


def scope_cost(rows, labels):
    """How much each scope matters to each model, from the rows of one checkpoint: per training seed, the intact bpb
    and the bpb with every weight of the scope zeroed (the floor rows), and their ratio. {model: {scope: {'intact',
    'zeroed', 'ratio'}}}, per-seed lists in training-seed order; seeds without an intact row are left out."""
    intact = rows[rows['level'] == 0].groupby(['model', 'train_seed'])['bpb'].first()
    zeroed = rows[(rows['kind'] == FLOOR_KIND) & (rows['level'] == 1.0) & rows['model'].isin(labels)
                  & pd.MultiIndex.from_frame(rows[['model', 'train_seed']]).isin(intact.index)]
    cost = {}
    for (model, scope), floors in sorted(zeroed.groupby(['model', 'scope']), key=lambda group: SCOPES.index(group[0][1])):
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
    for (model, scope, step, tokens, en_tokens), rows in costs.groupby(['model', 'scope', 'step', 'tokens', 'en_tokens'],
                                                                         sort=True):
        curves.setdefault(model, {}).setdefault(scope, []).append(
            {'step': int(step), 'tokens': int(tokens), 'en_tokens': int(en_tokens),
             'train_seeds': list(rows['train_seed']), 'intact': [float(b) for b in rows['intact']],
             'ratio': [float(r) for r in rows['ratio']]})
    return curves


def summarize(frame, config, rng, costs=None):
    """summary.json's content from the final checkpoints' rows: floors, half-failure levels, the verdict table."""
    labels = [label for label, _ in parse_models(config['models'])]
    final = frame[frame['checkpoint'] == 'final']
    # the floor of each model, training seed and scope: bpb with every weight in scope zeroed
    floor_rows = final[(final['kind'] == FLOOR_KIND) & (final['level'] == 1.0)]
    floors = {(model, scope): dict(zip(rows['train_seed'], rows['bpb']))
              for (model, scope), rows in floor_rows.groupby(['model', 'scope'])}
    fraction, margin = config['failure_fraction'], config['equivalence_margin']
    summary = {'metric': 'bits per byte', 'primary': (
        'retained area: per training seed, the share of its range from intact to the floor (every weight in scope '
        'zeroed) that bpb keeps, averaged over the grid (1: loses nothing, 0: at the floor); differences a - b '
        '(positive: a more robust), Welch t over the training seeds, Holm-corrected over the table'),
        'secondary': f'half_failure_level: the level where bpb has gone {fraction} of the way from intact to the '
                     'floor, mean over training seeds (None: not reached within the grid; a - b positive: a fails '
                     'later); crossover: where the mean bpb curves cross; retained_fraction_difference: per level',
        'layers': layers_text(config['layers']), 'equivalence_margin': margin,
        'scope_cost': scope_cost(final, labels), 'half_failure_level': {}, 'comparisons': {}}
    if costs is not None and len(costs):
        summary['scope_cost_by_checkpoint'] = cost_curves(costs)
    for label in labels:
        for kind in config['kinds']:
            for scope in config['scope']:
                rows = final[(final['model'] == label) & (final['kind'] == kind) & (final['scope'] == scope)]
                entry = half_failure_of(rows, 'bpb', floors.get((label, scope), {}), fraction)
                if entry is not None:
                    summary['half_failure_level'][f'{label} | {kind} | {scope}'] = entry
    for a, b in parse_pairs(config['compare'], labels):
        for kind in config['kinds']:
            for scope in config['scope']:
                rows = final[(final['kind'] == kind) & (final['scope'] == scope)]
                result = compare_rows(rows[rows['model'] == a], rows[rows['model'] == b], 'bpb',
                                      (floors.get((a, scope), {}), floors.get((b, scope), {})), True, fraction,
                                      config['bootstrap'], rng)
                if result is not None:
                    summary['comparisons'][f'{a} - {b} | {kind} | {scope}'] = result
    pair_verdicts(summary, QUESTION)
    return summary


def report(summary):
    """The summary in lines, for the terminal."""
    for name, entry in summary['half_failure_level'].items():
        print(f"  half-failure {name}: " + (level_text(entry['level']) if entry['reached'] else
                                            f"not reached within the grid (top level {entry['grid_top']})"))
    for name, row in summary['comparisons'].items():
        half = row['half_failure_level']
        print(row_text(name, row) + f"; crossover {level_text(row['crossover'])}; half-failure a, b "
              f"{level_text(half['a'])}, {level_text(half['b'])}"
              + (f", a - b {half['difference']:+.3f} {interval_text(half['difference_ci95'], 3)}"
                 if half['difference'] is not None else ''))
    for name in summary['intact_at_floor']:
        print(f"{name}: a model is intact at its floor: nothing to lose, no verdict", file=sys.stderr)
    answer = summary['answer']
    print(f"  {answer['comparisons']} comparisons, Holm-corrected: {counts_text(answer)}")


def clipped_lines(ax, rows, y, hue, label=str):
    """Error-bar lines of `y`; means that are inf or nan are drawn clipped to the top with an x marker."""
    rows = rows.copy()
    finite_rows = np.isfinite(rows[y])
    top = rows.loc[finite_rows, y].max() * 1.5 if finite_rows.any() else 1.0
    bad = rows[~finite_rows]
    rows.loc[~finite_rows, y] = top
    plots.errorbar_lines(ax, rows, 'level', y, hue, label=label, std_label=False)
    if len(bad):
        ax.scatter(bad['level'], [top] * len(bad), marker='x', s=90, color='black', zorder=5, label='inf/nan (clipped)')


def spread_title(rows, kind, repeats):
    """What the error bars span: training seeds (a family folder's models) and damage draws."""
    trainings = int(rows.groupby('model')['train_seed'].nunique().max())
    draws = 1 if KIND_TABLE[kind].deterministic else repeats
    parts = [f"{trainings} training seeds"] * (trainings > 1) + [f"{draws} draws"] * (draws > 1)
    return f"mean ± std over {' x '.join(parts)}" if parts else None


def draw_models(kind, rows, path, xlabel, config, crossovers):
    """A row of panels per scope: perplexity, bits per byte and bpb relative to intact, one curve per model."""
    rows = rows.copy()
    intact = rows[rows['level'] == 0].groupby(['model', 'train_seed', 'scope'])['bpb'].first()
    rows['relative'] = [bpb / intact.get((m, t, s), math.nan)
                        for m, t, s, bpb in zip(rows['model'], rows['train_seed'], rows['scope'], rows['bpb'])]
    shown = [s for s in config['scope'] if s in set(rows['scope'])]
    fig, axes = plots.figure(ncols=3, nrows=len(shown), width=5.2, height=4.2)
    for r, scope in enumerate(shown):
        part = rows[rows['scope'] == scope]
        for c, (column, ylabel) in enumerate((('ppl', 'Perplexity (own tokenizer)'), ('bpb', 'Bits per byte'),
                                              ('relative', 'bpb / bpb(intact)'))):
            ax = axes[r * 3 + c]
            clipped_lines(ax, part, column, 'model')
            ax.set_xlabel(xlabel)
            ax.set_ylabel(ylabel)
            ax.set_title(f"scope: {scope}" + (f", blocks {layers_text(config['layers'])}" if config['layers'] else ''),
                         fontsize=11)
            if column == 'ppl':
                ax.set_yscale('log')
            for a, b, level in crossovers.get((kind, scope), []) if column == 'bpb' else []:
                ax.axvline(level, color='grey', linestyle=':')
                ax.annotate(f"{a}/{b}\ncross-over {level:.3f}", (level, ax.get_ylim()[0]), xytext=(4, 10),
                            textcoords='offset points', fontsize=9)
            ax.legend(title=spread_title(rows, kind, config['repeats']), fontsize=9)
    plots.save(fig, path)


def draw_checkpoints(kind, rows, path, xlabel, config, labels):
    """One panel per model and scope; one perplexity curve per training checkpoint step_<n> (the paper's Figure)."""
    shown = [s for s in config['scope'] if s in set(rows['scope'])]
    fig, axes = plots.figure(ncols=len(labels), nrows=len(shown), width=5.2, height=4.2)
    final_rank = 10 ** 12
    order = lambda name: int(name[5:]) if name.startswith('step_') else final_rank
    for r, scope in enumerate(shown):
        for c, label in enumerate(labels):
            ax = axes[r * len(labels) + c]
            part = rows[(rows['scope'] == scope) & (rows['model'] == label)].copy()
            part['rank'] = part['checkpoint'].map(order)
            if len(part):
                clipped_lines(ax, part, 'ppl', 'rank', label=lambda k: 'final' if k == final_rank else f"step {k}")
                ax.legend(fontsize=9)
            ax.set_yscale('log')
            ax.set_xlabel(xlabel)
            ax.set_ylabel('Perplexity')
            ax.set_title(f"{label}, scope: {scope}", fontsize=11)
    plots.save(fig, path)


def draw(frame, summary, config):
    labels = [label for label, _ in parse_models(config['models'])]
    crossovers = {}
    for name, row in summary['comparisons'].items():
        if row['crossover'] is not None:
            (a_b, kind, scope) = name.split(' | ')
            crossovers.setdefault((kind, scope), []).append((*a_b.split(' - '), row['crossover']))
    for kind in sorted(set(config['kinds']) | set(config['checkpoint_kinds'])):
        filename, xlabel = FIGURES[kind]
        rows = frame[frame['kind'] == kind]
        if rows.empty:
            continue
        final = rows[rows['checkpoint'] == 'final']
        # checkpoints hold every kind's floor too: a figure by checkpoint only for the kinds swept there
        by_checkpoint = kind in config['checkpoint_kinds'] and rows['checkpoint'].nunique() > 1
        if kind in config['kinds'] and len(final):
            name = filename.replace('.png', '_models.png') if by_checkpoint else filename
            draw_models(kind, final, os.path.join(config['visuals_dir'], name), xlabel, config, crossovers)
        if by_checkpoint:
            draw_checkpoints(kind, rows, os.path.join(config['visuals_dir'], filename), xlabel, config, labels)


def draw_costs(costs, path):
    """The scope cost against training tokens: a panel per scope, a line per model, mean ± std over training seeds."""
    scopes = sorted(set(costs['scope']), key=SCOPES.index)
    fig, axes = plots.figure(ncols=len(scopes), width=5.2, height=4.2)
    for ax, scope in zip(axes, scopes):
        part = costs[costs['scope'] == scope].assign(millions=lambda rows: rows['tokens'] / 1e6)
        plots.errorbar_lines(ax, part, 'millions', 'ratio', 'model', std_label=False)
        if scope == 'attn':
            ax.axhline(USES_CONTEXT, color='grey', linestyle=':', label=f'{USES_CONTEXT}x: uses its context')
        seeds = int(part.groupby(['model', 'tokens'])['train_seed'].nunique().min())
        ax.legend(title=f"mean ± std over {seeds} training seeds" if seeds > 1 else None, fontsize=9)
        ax.set_xlabel('training tokens seen (millions, all languages)')
        ax.set_ylabel(f'bpb with {scope} zeroed / bpb intact')
        ax.set_title(f"{scope} cost against training tokens", fontsize=11)
    plots.save(fig, path)


def analyze(out_dir, config):
    """Rewrite out_dir/summary.json and the figures from perplexity.csv (and checkpoints.csv, where the models came
    from train_bilingual_gpt2.py); returns the summary."""
    labels = [label for label, _ in parse_models(config['models'])]
    frame = read_rows(os.path.join(out_dir, CSV), TABLE)
    primary = parse_models(config['eval_files'], 'eval_files')[0][0] if 'eval_files' in config else 'en'
    frame = frame[(frame['layers'].astype(str) == layers_text(config['layers'])) & frame['model'].isin(labels)
                  & (frame['text'] == primary) & (frame['checkpoint'] != UNTRAINED)]
    tokens_path = os.path.join(out_dir, 'checkpoints.csv')
    costs = scope_cost_by_checkpoint(frame, read_rows(tokens_path), labels) if os.path.exists(tokens_path) else None
    summary = summarize(frame, config, np.random.default_rng(config['seed']), costs)
    write_summary(out_dir, summary)
    report(summary)
    draw(frame, summary, config)
    if costs is not None and len(costs):
        draw_costs(costs, os.path.join(config['visuals_dir'], COST_FIGURE))
    return summary
