"""Multitask linear representations under weight noise, deletion and pruning: the paper's theory made runnable.

T binary tasks, the class pairs (0,1), (1,2), ..., (T-1,T), are learned by task vectors C (T x n), rows kept on
the unit sphere. The SVD C^T = U S V^T gives a shared k-dimensional representation W = U_k^T (k x n) and task
heads Gamma = S_k V_k^T (k x T); task t predicts gamma_t . (W x). Corrupting W raises the error by an amount
that follows the spectrum: for additive noise sigma,

    E[MSE(sigma)] = MSE(0) + 0.5 sigma^2 mean_t(||gamma_t||^2 E||x||^2),   mean_t ||gamma_t||^2 = ||S_k||_F^2 / T,

so more (diverse) tasks, whose energy spreads beyond k directions, give a smaller slope ||S_k||_F^2 / T and a
smaller error under noise. Here mse is half the mean squared error, the data term of the training loss.

    python binary_classification.py                                 # digits, offline, seconds on a CPU
    python binary_classification.py --dataset=mnist --max_samples=10000
    python binary_classification.py --help
"""

import os
import time
import zlib

import numpy as np
import torch
from tqdm import tqdm

from robustness.analysis.schema import write_summary
from robustness.config import check, check_choices, check_range, configure, save_config, settings_checked
from robustness.data import IMAGE_DATASETS, NUM_CLASSES, load_images
from robustness.kinds import KINDS, linear_kinds
from robustness.linear import (THEORY_KIND, additive_noise_coefficient, check_sample_budget, corrupt, half_mse,
                               paired_draws, representation, standard_draws, task_data, train_task_vectors)
from robustness.lock import claim
from robustness.plots import errorbar_lines, figure, save
from robustness.provenance import record_run
from robustness.results import ResultsLog, Table
from robustness.settings import validate

# -----------------------------------------------------------------------------
# data
dataset = 'digits'         # digits (scikit-learn, offline) | mnist | cifar10 (torchvision, read from data_root)
data_root = 'data'         # where torchvision finds, or downloads, mnist and cifar10
task_counts = [4, 5, 6, 7, 8, 9]  # numbers of tasks T; task t separates class t (label 0) from class t+1 (label 1)
max_samples = 720          # training samples shared by all tasks: max_samples // T per task, as in the paper
# model and training (full batch, all tasks at once)
k = 4                      # dimension of the shared representation W
alpha = 1e-3               # weight of mean(C^2) in the loss
lr = 5e-3                  # AdamW learning rate
weight_decay = 1e-4        # AdamW weight decay
steps = 1000               # optimizer steps
# damage to W (kinds), each over its own level grid
kinds = ['gaussian_noise', 'random_deletion', 'magnitude_pruning', 'multiplicative_noise']  # gaussian_noise: W + sigma
                           # N (the theory's) | multiplicative_noise: W (1 + sigma N)
noise_levels = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0, 1.2, 1.4, 1.6, 1.8, 2.0]  # sigma, the two noise kinds
levels = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]  # p, random_deletion and magnitude_pruning
repeats = 20               # draws per level of random_deletion and multiplicative_noise, each reused at every level
gaussian_repeats = 1000    # draws of gaussian_noise, the theory's kind: 500 antithetic pairs (N, -N), each mean within
                           # ~3%
seed = 0                   # seeds the data split, task samples, initialisation and every draw
# output
out_dir = 'results/binary_classification'
visuals_dir = 'visuals'
# -----------------------------------------------------------------------------
config = configure(globals(), renamed={'corruptions': 'kinds', 'seeds': 'repeats', 'additive_seeds': 'gaussian_repeats',
                                       'deletion_levels': 'levels'})

validate(config, kinds=linear_kinds())  # the settings the scripts share
check_choices('dataset', dataset, IMAGE_DATASETS)
check_range('task_counts', task_counts, 1, NUM_CLASSES[dataset] - 1)  # T tasks need classes 0..T
check(max_samples >= max(task_counts), f"max_samples: {max_samples} leaves no sample for {max(task_counts)} tasks")
settings_checked()
levels_of = {kind: {'levels': levels, 'noise_levels': noise_levels}[KINDS[kind].grid] for kind in kinds}

x_train, y_train, x_test, y_test = load_images(dataset, data_root, seed=seed)
check_sample_budget(y_train, task_counts, max_samples, dataset)
print(f"{dataset}: {len(x_train)} training and {len(x_test)} test images of {x_train.shape[1]} pixels")
claim(out_dir)  # one run per out_dir
save_config(config, os.path.join(out_dir, 'config.json'))
torch.manual_seed(seed)
# The matrices here are tiny: one thread is as fast alone, and 40x faster when another process shares the cores
# (measured: 1000 steps took 0.6 s with 1 thread, 24 s with 2, on a loaded 2-core machine).
torch.set_num_threads(1)

TABLE = Table('linear.csv', ('dataset', 'num_tasks', 'kind', 'level', 'repeat', 'task', 'mse', 'sparsity'),
              key=('dataset', 'num_tasks', 'kind', 'level', 'repeat', 'task'))
log = ResultsLog(os.path.join(out_dir, TABLE.filename), TABLE)
summary = {'config': config, 'num_tasks': {}}
started = time.time()
for T in tqdm(task_counts, desc='task counts'):
    rng = np.random.default_rng([seed, T])
    train_tasks = task_data(x_train, y_train, T, max_samples // T, rng)
    test_tasks = task_data(x_test, y_test, T)
    C = train_task_vectors(train_tasks, steps, lr, weight_decay, alpha)
    W, Gamma, S = representation(C, k)  # (k, n) shared representation, (k, T) task heads, singular values
    np.savez(os.path.join(out_dir, f'representation_T{T}.npz'), C=C.numpy(), W=W.numpy(), Gamma=Gamma.numpy())

    intact = half_mse(Gamma, W[None], test_tasks)[0]
    slope = float((S[:k] ** 2).sum() / T)
    summary['num_tasks'][T] = {
        'slope': slope, 'intact_mse': float(intact.mean()), 'intact_mse_per_task': intact.tolist(),
        'full_rank_intact_mse': float(half_mse(torch.eye(T), C[None], test_tasks)[0].mean()),  # C itself, before rank k
        'additive_noise_theory': {'mse0': float(intact.mean()),
                                  'coefficient': additive_noise_coefficient(Gamma, test_tasks)},
        'sparsity': {}}
    for kind in kinds:
        # pruning is deterministic: one draw
        draw_seeds = range(KINDS[kind].draws(gaussian_repeats if kind == THEORY_KIND else repeats))
        # Draw s is seeded by (seed, T, kind, s) alone: reproducible on its own, the same at every level, and the
        # same whatever other kinds the registry holds (the kind by its name's CRC-32, not its place in a list).
        draws = standard_draws(kind, W.shape, [int(np.random.SeedSequence([seed, T, zlib.crc32(kind.encode()), s])
                                                         .generate_state(1)[0]) for s in draw_seeds])
        for level in levels_of[kind]:
            if all(log.has(dataset=dataset, num_tasks=T, kind=kind, level=level, repeat=s, task=t)
                   for s in draw_seeds for t in range(T)):
                continue
            corrupted = corrupt(W, kind, level, draws)
            errors = half_mse(Gamma, corrupted, test_tasks)
            sparsity = (corrupted == 0).float().mean(dim=(1, 2))
            log.write_rows([{'dataset': dataset, 'num_tasks': T, 'kind': kind, 'level': level, 'repeat': s,
                             'task': t, 'mse': float(errors[i, t]), 'sparsity': float(sparsity[i])}
                            for i, s in enumerate(draw_seeds) for t in range(T)])
print(f"measured in {time.time() - started:.1f} s")

# -----------------------------------------------------------------------------
# summary and figures, from the CSV
results = log.read()
results = results[(results.dataset == dataset) & results.num_tasks.isin(task_counts) & results.kind.isin(kinds)]
per_draw = results.groupby(['num_tasks', 'kind', 'level', 'repeat'], as_index=False).agg(
    mse=('mse', 'mean'), sparsity=('sparsity', 'first'))
label = lambda T: f"Num tasks: {T}"


def estimates(rows, kind):
    """Mean over draws, and its standard error, per (T, level). The antithetic pairs of the noise kinds are not
    independent draws: the standard error is taken over pair means."""
    replicate = rows.repeat // 2 if paired_draws(kind) else rows.repeat
    replicates = rows.assign(replicate=replicate).groupby(['num_tasks', 'level', 'replicate'])['mse'].mean()
    stats = replicates.groupby(['num_tasks', 'level']).agg(['mean', 'std', 'count']).reset_index()
    stats['se'] = stats['std'] / stats['count'] ** 0.5
    return stats


for kind in kinds:
    rows = per_draw[per_draw.kind == kind]
    fig, (ax,) = figure()
    errorbar_lines(ax, rows, 'level', 'mse', 'num_tasks', label=label)
    stats = estimates(rows, kind)
    for T in sorted(rows.num_tasks.unique()):
        damaged = stats[(stats.num_tasks == T) & (stats.level > 0)]
        if not KINDS[kind].deterministic and len(damaged):
            summary['num_tasks'][T].setdefault('max_relative_standard_error', {})[kind] = \
                float((damaged['se'] / damaged['mean']).max())
    if kind == THEORY_KIND:
        for color, T in zip([line.get_color() for line in ax.get_lines()], sorted(rows.num_tasks.unique())):
            theory = summary['num_tasks'][T]['additive_noise_theory']
            sigma = np.linspace(0, max(noise_levels), 100)
            ax.plot(sigma, theory['mse0'] + theory['coefficient'] * sigma ** 2, '--', color=color, linewidth=1,
                    alpha=0.7)
            measured = stats[(stats.num_tasks == T) & (stats.level > 0)]
            predicted = theory['mse0'] + theory['coefficient'] * measured['level'] ** 2
            gap = (measured['mean'] - predicted).abs()
            theory['max_relative_deviation'] = float((gap / predicted).max())
            theory['max_deviation_in_standard_errors'] = float((gap / measured['se']).max())
        ax.set_title('dashed: theory, MSE(0) + 0.5 σ² mean_t ||γ_t||² E||x||²', fontsize=10)
    if KINDS[kind].zeroes:
        for T in sorted(rows.num_tasks.unique()):
            achieved = rows[rows.num_tasks == T].groupby('level')['sparsity'].mean()
            summary['num_tasks'][T]['sparsity'][kind] = {str(level): float(value) for level, value in achieved.items()}
    ax.set_xlabel(KINDS[kind].matrix_label)
    ax.set_ylabel('Mean Noisy MSE')
    save(fig, os.path.join(visuals_dir, f'{dataset}_{kind}_mse.png'))

counts = sorted(summary['num_tasks'])
for name, key, ylabel in [('slope', 'slope', 'Slope ||S_k||²_F / T'),
                          ('eval_mse', 'intact_mse', 'Intact eval MSE (rank k)')]:
    fig, (ax,) = figure()
    ax.plot(counts, [summary['num_tasks'][T][key] for T in counts], '-.', marker='o', markersize=8)
    ax.set_xlabel('Number of tasks T')
    ax.set_ylabel(ylabel)
    ax.set_title(f'{dataset}, k = {k}', fontsize=11)
    save(fig, os.path.join(visuals_dir, f'{dataset}_{name}.png'))

write_summary(out_dir, summary)
for T in counts:
    entry = summary['num_tasks'][T]
    theory = entry['additive_noise_theory']
    line = f"T={T}: slope {entry['slope']:.3f}, intact mse {entry['intact_mse']:.4f}"
    if 'max_relative_deviation' in theory:
        error = entry['max_relative_standard_error'][THEORY_KIND]
        line += (f"; additive noise: measured within {100 * error:.1f}% "
                 f"(one standard error) at every σ, at most {100 * theory['max_relative_deviation']:.1f}% "
                 f"({theory['max_deviation_in_standard_errors']:.1f} standard errors) from the theory")
    print(line)
record_run(out_dir)
