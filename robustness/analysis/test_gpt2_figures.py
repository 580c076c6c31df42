"""test_gpt2.py's figures, drawn from its CSV rows and summary: a model's curves per kind (and by checkpoint), the
scope cost against training tokens, retained area against intact quality, both languages of a bilingual model, and
each lm-eval task's curves.
"""

import math
import os

import numpy as np
import pandas as pd

from robustness import plots
from robustness.analysis import MEASURE_WORDS
from robustness.analysis.test_gpt2_csv import layers_text, training_order
from robustness.analysis.test_gpt2_tasks import task_kinds
from robustness.kinds import KINDS
from robustness.runtime import parse_models
from robustness.scopes import SCOPES
from robustness.stats import MEASURES

COST_FIGURE = 'gpt2_scope_cost.png'
FRONTIER_FIGURE = 'gpt2_matched_quality.png'
LANGUAGES_FIGURE = 'gpt2_second_language.png'
USES_CONTEXT = 1.2  # attention cost (bpb with attention zeroed / intact) from which a model counts as using its context


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
    draws = KINDS[kind].draws(repeats)
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
            # named in a legend, not on the axes: two cross-overs near one level would print on top of each other
            marks = [ax.axvline(level, color='grey', linestyle=style, label=f"{a}/{b} cross over at {level:.3f}")
                     for (a, b, level), style in zip(crossovers.get((kind, scope), []) if column == 'bpb' else [],
                                                     (':', '--', '-.', (0, (1, 4))))]
            if marks:
                ax.legend(handles=marks, fontsize=9)
    plots.legend_below(fig, axes[0], spread_title(rows, kind, config['repeats']))
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
    for row in summary['comparisons']:
        if row.described['crossover'] is not None:
            crossovers.setdefault((row.kind, row.scope), []).append((row.a, row.b, row.described['crossover']))
    for kind in sorted(set(config['kinds']) | set(config['checkpoint_kinds'])):
        filename, xlabel = f'gpt2_{kind}.png', KINDS[kind].label
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
            ax.legend(handles=[ax.axhline(USES_CONTEXT, color='grey', linestyle=':',
                                          label=f'{USES_CONTEXT}x: uses its context')], fontsize=9)
        ax.set_xlabel('training tokens seen (millions, all languages)')
        ax.set_ylabel(f'bpb with {scope} zeroed / bpb intact')
        ax.set_title(f"{scope} cost against training tokens", fontsize=11)
    seeds = int(costs.groupby(['model', 'scope', 'tokens'])['train_seed'].nunique().min())
    plots.legend_below(fig, axes[0], f"mean ± std over {seeds} training seeds" if seeds > 1 else None,
                       curves_only=True)
    plots.save(fig, path)


def seeds_title(counts):
    """What a figure's error bars span when its points rest on different numbers of training seeds (a checkpoint
    swept for some seeds only): the range, and that a point of one seed has no bar."""
    low, high = int(counts.min()), int(counts.max())
    if low == high:
        return f"mean ± std over {high} training seeds" if high > 1 else 'one training seed: no error bars'
    return f"mean ± std over {low}-{high} training seeds a point" + (' (no bar: one seed)' if low == 1 else '')


def draw_frontier(points, measure, path):
    """`measure` (the headline) against intact bpb, a panel per kind and scope, a line per model through its
    checkpoints in training order (mean ± std over training seeds): a model on the better side of another's line
    keeps more at the same quality."""
    combos, counts = list(dict.fromkeys(zip(points['kind'], points['scope']))), []
    fig, axes = plots.figure(ncols=min(len(combos), 4), nrows=math.ceil(len(combos) / 4), width=5.2, height=4.2)
    for ax, (kind, scope) in zip(axes, combos):
        part = points[(points['kind'] == kind) & (points['scope'] == scope)]
        stats = part.groupby(['model', 'checkpoint']).agg(intact=('intact', 'mean'), value=('value', 'mean'),
                                                          intact_std=('intact', 'std'), value_std=('value', 'std'),
                                                          seeds=('value', 'size')).reset_index()
        for i, (model, rows) in enumerate(stats.groupby('model')):
            rows = rows.assign(order=rows['checkpoint'].map(training_order)).sort_values('order')
            ax.errorbar(rows['intact'], rows['value'], xerr=rows['intact_std'].fillna(0),
                        yerr=rows['value_std'].fillna(0), label=model, linestyle='-.',
                        marker=plots.MARKERS[i % len(plots.MARKERS)], markersize=8, capsize=3)
        ax.invert_xaxis()  # better models to the right
        counts += list(stats['seeds'])
        ax.set_xlabel('intact bits per byte (checkpoints; better to the right)')
        better = 'higher' if MEASURES[measure].better > 0 else 'lower'
        ax.set_ylabel(f"{MEASURE_WORDS[measure]}\n({better}: keeps more)",
                      fontsize=9)  # two short lines: a long label runs into the panel below
        ax.set_title(f"{kind.replace('_', ' ')}, scope: {scope}", fontsize=10)
    for ax in axes[len(combos):]:
        ax.set_visible(False)
    plots.legend_below(fig, axes[0], seeds_title(pd.Series(counts)))
    plots.save(fig, path)


def draw_languages(scores, models, config, texts, path):
    """Each first model of a pair on its two texts: bits per byte relative to intact against the level, a panel per
    kind and scope, mean ± std over training seeds x draws."""
    frame = scores.frame
    rows = frame[frame['model'].isin(models) & (frame['checkpoint'] == 'final') & frame['text'].isin(texts[:2])]
    if rows.empty:
        return
    intact = rows[rows['level'] == 0].groupby(['model', 'train_seed', 'text', 'kind', 'scope'])['bpb'].first()
    rows = rows.assign(relative=[bpb / intact.get(key, math.nan) for key, bpb in zip(
        zip(rows['model'], rows['train_seed'], rows['text'], rows['kind'], rows['scope']), rows['bpb'])],
        curve=rows['model'] + ': ' + rows['text'])
    combos = [(k, s) for k in config['kinds'] for s in config['scope']
              if ((rows['kind'] == k) & (rows['scope'] == s)).any()]
    fig, axes = plots.figure(ncols=min(len(combos), 4), nrows=math.ceil(len(combos) / 4), width=5.2, height=4.2)
    for ax, (kind, scope) in zip(axes, combos):
        part = rows[(rows['kind'] == kind) & (rows['scope'] == scope)]
        plots.errorbar_lines(ax, part, 'level', 'relative', 'curve', std_label=False)
        ax.legend(title=plots.spread_words(part, ['curve', 'level']), fontsize=9)
        ax.set_xlabel(KINDS[kind].label)
        ax.set_ylabel('bpb / bpb(intact)')
        ax.set_title(f"scope: {scope}", fontsize=10)
    for ax in axes[len(combos):]:
        ax.set_visible(False)
    plots.save(fig, path)


def draw_task(rows, table, config, path):
    """One lm-eval task metric: a panel per kind that ran the tasks and scope, the metric against the level, a line
    per model (mean ± std over training seeds x draws), chance where it is the floor."""
    rows = rows[rows['checkpoint'] == 'final']
    combos = [(k, s) for k in task_kinds(config) for s in config['scope']
              if ((rows['kind'] == k) & (rows['scope'] == s)).any()]
    if not combos:
        return
    fig, axes = plots.figure(ncols=min(len(combos), 4), nrows=math.ceil(len(combos) / 4), width=5.2, height=4.2)
    for ax, (kind, scope) in zip(axes, combos):
        part = rows[(rows['kind'] == kind) & (rows['scope'] == scope)]
        plots.errorbar_lines(ax, part, 'level', 'value', 'model', std_label=False)
        if table['chance'] is not None:
            ax.axhline(table['chance'], color='grey', linestyle=':', label=f"chance ({table['chance']:.3f})")
        ax.legend(title=plots.spread_words(part, ['model', 'level']), fontsize=9)
        ax.set_xlabel(KINDS[kind].label)
        ax.set_ylabel(f"{table['task']}: {table['metric']}")
        ax.set_title(f"scope: {scope}", fontsize=10)
    for ax in axes[len(combos):]:
        ax.set_visible(False)
    plots.save(fig, path)
