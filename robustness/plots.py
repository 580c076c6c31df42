"""Error-bar line figures in the style of the paper's (ggplot grey, dash-dot lines, markers, serif).

Figures are drawn from the tidy CSVs, so they can be redrawn without recomputing anything.
"""

import os

import matplotlib

matplotlib.use('Agg')  # no display on servers and CI
import matplotlib.pyplot as plt
from matplotlib.container import ErrorbarContainer

from robustness.provenance import FIGURES_WRITTEN, fingerprint
from robustness.results import mean_std

MARKERS = ['1', 'h', '*', 'o', 'P', 's', 'D', 'v', '^', 'X']


def figure(ncols=1, width=6.4, height=4.8, nrows=1):
    """A paper-style figure with `ncols` panels side by side (in `nrows` rows); returns (fig, list of
    axes, row by row)."""
    plt.style.use('ggplot')
    plt.rcParams.update({'font.family': 'serif', 'mathtext.fontset': 'dejavuserif', 'legend.fontsize': 11})
    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False)
    return fig, list(axes.flat)


def errorbar_lines(ax, frame, x, y, hue, label=str, std_label=True):
    """One dash-dot line per value of column `hue`: mean of `y` over the rows at each `x`, ± std.

    Returns the aggregated statistics (hue, x, mean, std, count).
    """
    stats = mean_std(frame, [hue, x], y)
    for i, (group, rows) in enumerate(stats.groupby(hue, sort=True)):
        ax.errorbar(rows[x], rows['mean'], yerr=rows['std'], label=label(group), linestyle='-.',
                    marker=MARKERS[i % len(MARKERS)], markersize=8, capsize=3, linewidth=1.6)
    if std_label:
        ax.legend(title=spread_words(frame, [hue, x]))
    return stats


def spread_words(frame, cells):
    """What a figure's error bars span: the rows of each cell (`cells`: the columns of one point) are training seeds
    (the column train_seed, where the frame has one) x draws; None where a point rests on one row."""
    if not len(frame):
        return None
    rows = int(frame.groupby(cells).size().max())
    seeds = int(frame['train_seed'].nunique()) if 'train_seed' in frame.columns else 1
    parts = [f"{seeds} training seeds"] * (seeds > 1) + [f"{rows // seeds} draws"] * (rows // seeds > 1)
    return f"mean ± std over {' x '.join(parts)}" if parts else None


def legend_below(fig, ax, title, curves_only=False):
    """One legend for every panel of a figure (they share their curves), below the panels, where no curve runs;
    `curves_only`: the error-bar curves alone (a panel's own reference lines keep a legend in their panel)."""
    handles, labels = ax.get_legend_handles_labels()
    if curves_only:
        handles, labels = zip(*[(h, l) for h, l in zip(handles, labels) if isinstance(h, ErrorbarContainer)])
    fig.legend(handles, labels, title=title, loc='upper center', bbox_to_anchor=(0.5, 0.0), ncol=min(len(labels), 6),
               fontsize=10, frameon=False)


def save(fig, path):
    os.makedirs(os.path.dirname(path) or '.', exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=120, bbox_inches='tight')  # 'tight': a legend below the panels is part of the figure
    plt.close(fig)
    FIGURES_WRITTEN[path] = fingerprint(path)
    print(f"wrote {path}")


def draw_training(log, path):
    """Held-out English bits per byte against tokens seen (all languages, English), one line per model: the rows of
    train_bilingual_gpt2.py's train_log.csv whose split is 'eval'."""
    held_out = log[log['split'] == 'eval']
    seeds = sorted(held_out['train_seed'].unique())
    fig, axes = figure(ncols=2)
    for ax, x, label in ((axes[0], 'tokens', 'training tokens seen (all languages)'),
                         (axes[1], 'en_tokens', 'English training tokens seen')):
        errorbar_lines(ax, held_out, x, 'bpb', 'model', std_label=False)
        ax.legend(title=f"mean ± std over {len(seeds)} training seeds" if len(seeds) > 1 else f"seed {seeds[0]}")
        ax.set_xlabel(label)
        ax.set_ylabel('held-out English bits per byte')
    axes[0].set_title("held-out books of the English text")
    save(fig, path)
