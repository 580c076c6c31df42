"""Multitask linear representations (binary_classification.py): tasks, training, the shared representation,
its kinds of damage and the theory's prediction under additive noise.

Task t predicts gamma_t . (W x) with W (k x n) shared by all tasks and gamma_t the t-th column of Gamma (k x T).
Errors are half mean squared errors, the data term of the training loss.
"""

import numpy as np
import torch

from robustness.config import check
from robustness.kinds import KINDS

THEORY_KIND = 'gaussian_noise'  # the kind whose error the theory predicts (additive_noise_coefficient): W + sigma N


def task_data(x, y, T, per_task=None, rng=None):
    """[(x_t, y_t)] for the T tasks: the images of classes t and t+1, label 1 for class t+1.

    With `per_task`, each task draws that many of its samples without replacement from `rng`.
    """
    tasks = []
    for t in range(T):
        index = np.flatnonzero(np.isin(y, [t, t + 1]))
        if per_task is not None:
            index = rng.choice(index, per_task, replace=False)
        tasks.append((torch.from_numpy(x[index]), torch.from_numpy((y[index] == t + 1).astype(np.float32))))
    return tasks


def check_sample_budget(labels, task_counts, max_samples, dataset):
    """Each task of every T must have max_samples // T training samples: a one-line error naming max_samples if not."""
    for T in task_counts:
        for t in range(T):
            available = np.isin(labels, [t, t + 1]).sum()
            check(max_samples // T <= available, f"max_samples: {max_samples} // {T} = {max_samples // T} samples per "
                  f"task, but task ({t},{t + 1}) of {dataset} has only {available} training samples")


def train_task_vectors(tasks, steps, lr, weight_decay, alpha, gram=None):
    """C (T x n) minimising 0.5 * squared error + alpha * mean(C^2) with AdamW, full batch, all tasks at once;
    after every step the rows of C are projected onto the unit sphere. Tasks must have equal sample counts.
    `gram` chooses how the loss is computed (None: the cheaper way)."""
    xs, ys = torch.stack([x for x, _ in tasks]), torch.stack([y for _, y in tasks])  # (T, m, n), (T, m)
    T, m, n = xs.shape
    if (m > n if gram is None else gram):
        # The loss is quadratic in C, so with more samples than pixels the per-task Gram matrices X^T X (n x n)
        # give the same loss and gradient for less memory read per step (3x faster on MNIST-sized tasks).
        grams, moment, y_squared = xs.mT @ xs, (xs.mT @ ys[:, :, None])[:, :, 0], (ys ** 2).sum()
        data_loss = lambda C: 0.5 * ((C[:, None] @ grams @ C[:, :, None]).sum() - 2 * (moment * C).sum()
                                     + y_squared) / (T * m)
    else:
        data_loss = lambda C: 0.5 * ((torch.bmm(xs, C[:, :, None])[:, :, 0] - ys) ** 2).mean()
    C = torch.nn.functional.normalize(torch.randn(T, n), dim=1).requires_grad_()
    optimizer = torch.optim.AdamW([C], lr=lr, weight_decay=weight_decay)
    for _ in range(steps):
        loss = data_loss(C) + alpha * (C ** 2).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            C /= C.norm(dim=1, keepdim=True)
    return C.detach()


def representation(C, k):
    """SVD C^T = U S V^T -> W = U_k^T (k x n), Gamma = S_k V_k^T (k x T), and the singular values S."""
    U, S, Vh = torch.linalg.svd(C.T, full_matrices=False)
    return U[:, :k].T, S[:k, None] * Vh[:k], S


def paired_draws(kind):
    """Whether a kind's standard draws come in antithetic pairs (N, -N): its draws are normal."""
    return KINDS[kind].sample is torch.randn


def standard_draws(kind, shape, seeds, antithetic=True):
    """The random part of a kind (the registry's `sample`), one draw per seed: (len(seeds), *shape); None for a kind
    that takes none (magnitude pruning).

    Draw j comes from a generator seeded by seeds[j], so each draw is reproducible alone. The draws do not depend
    on the level: `corrupt` scales or thresholds the same draws at every level (common random numbers), which
    makes differences between levels precise. With `antithetic`, normal draws come in pairs (N, -N): draw 2i + 1 is
    minus draw 2i, which cancels the term linear in the noise within each pair. Each draw is still N(0, 1)."""
    sample = KINDS[kind].sample
    if sample is None:
        return None
    pairs = antithetic and paired_draws(kind)
    draws = torch.stack([sample(shape, generator=torch.Generator().manual_seed(seeds[j - j % 2 if pairs else j]))
                         for j in range(len(seeds))])
    if pairs:
        draws[1::2] *= -1
    return draws


def corrupt(W, kind, level, draws):
    """A stack of corrupted copies of W, one per standard draw (from `standard_draws`): (len(draws), *W.shape); a
    single copy for a kind without draws (the registry's `on_matrix`)."""
    return KINDS[kind].on_matrix(W, level, draws)


def half_mse(heads, representations, tasks):
    """(draws, T) half mean squared error of task t's predictions gamma_t . (W x) on its data, for each W in
    the stack `representations` (draws, k, n)."""
    task_vectors = torch.einsum('kt,skn->stn', heads, representations)  # gamma_t^T W for every draw and task
    return torch.stack([0.5 * ((task_vectors[:, t] @ x.T - y) ** 2).mean(1) for t, (x, y) in enumerate(tasks)], dim=1)


def additive_noise_coefficient(heads, tasks):
    """c in E[MSE(sigma)] = MSE(0) + c sigma^2 for W + sigma N: c = 0.5 mean_t(||gamma_t||^2 E||x||^2 over task t).

    gamma_t^T N x has variance ||gamma_t||^2 ||x||^2 for N with iid standard normal entries, and the cross term
    with the clean error vanishes in expectation.
    """
    x_norms = torch.stack([(x ** 2).sum(1).mean() for x, _ in tasks])
    return float(0.5 * ((heads ** 2).sum(0) * x_norms).mean())
