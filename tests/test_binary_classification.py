import json

import numpy as np
import pandas as pd
import pytest
import torch

from conftest import run_main, run_script
from idx_fixture import synthetic_digits, write_mnist
from robustness.linear import additive_noise_coefficient, corrupt, half_mse, representation, standard_draws, \
    train_task_vectors


def draws(kind, count, start=0, antithetic=True):
    return standard_draws(kind, W.shape, list(range(start, start + count)), antithetic)


W = torch.randn(40, 250, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize('p', [0.1, 0.5, 0.9])
def test_random_deletions_zero_each_entry_with_probability_p(p):
    corrupted = corrupt(W, 'random_deletion', p, draws('random_deletion', 8))
    assert corrupted.shape == (8, *W.shape)
    assert abs((corrupted == 0).float().mean().item() - p) < 0.01  # 80k entries: std of the fraction ~ 0.002
    kept = corrupted != 0
    assert torch.equal(corrupted[kept], W.expand_as(corrupted)[kept])
    # Each draw is reproducible from its own seed alone.
    assert torch.equal(corrupt(W, 'random_deletion', p, draws('random_deletion', 1, start=3))[0], corrupted[3])


@pytest.mark.parametrize('p', [0.0, 0.25, 0.5, 1.0])
def test_magnitude_pruning_zeroes_exactly_the_smallest(p):
    pruned = corrupt(W, 'magnitude_pruning', p, draws('magnitude_pruning', 5))
    assert pruned.shape == (1, *W.shape)  # deterministic: one draw
    zeroed = pruned[0] == 0
    assert zeroed.sum().item() == round(p * W.numel())
    if 0 < p < 1:
        assert W.abs()[zeroed].max() <= W.abs()[~zeroed].min()
        assert torch.equal(pruned[0][~zeroed], W[~zeroed])


@pytest.mark.parametrize('kind, sigma', [('gaussian_noise', 0.5), ('gaussian_noise', 2.0),
                                               ('multiplicative_noise', 0.3), ('multiplicative_noise', 1.5)])
def test_noise_has_the_requested_std(kind, sigma):
    corrupted = corrupt(W, kind, sigma, draws(kind, 4, antithetic=False))
    noise = corrupted - W if kind == 'gaussian_noise' else corrupted / W - 1
    assert abs(noise.std().item() / sigma - 1) < 0.02 and abs(noise.mean().item()) < 0.02 * sigma


@pytest.mark.parametrize('antithetic', [False, True])
def test_theory_matches_a_monte_carlo_estimate(antithetic):
    """With or without the variance reduction (antithetic pairs, one draw reused at every sigma), the mean noisy MSE
    estimates the closed form E[MSE(sigma)] = MSE(0) + c sigma^2."""
    rng = torch.Generator().manual_seed(1)
    C = torch.nn.functional.normalize(torch.randn(6, 30, generator=rng), dim=1)
    W_k, Gamma, _ = representation(C, k=3)
    tasks = [(torch.rand(50, 30, generator=rng), (torch.rand(50, generator=rng) > 0.5).float()) for _ in range(6)]
    intact = half_mse(Gamma, W_k[None], tasks)[0].mean().item()
    coefficient = additive_noise_coefficient(Gamma, tasks)
    noise = standard_draws('gaussian_noise', W_k.shape, list(range(4000)), antithetic)
    assert torch.equal(noise[1::2], -noise[0::2]) == antithetic
    assert abs(noise.std().item() - 1) < 0.01  # every single draw is still standard normal
    for sigma in (0.5, 2.0):
        measured = half_mse(Gamma, corrupt(W_k, 'gaussian_noise', sigma, noise), tasks).mean().item()
        predicted = intact + coefficient * sigma ** 2
        assert abs(measured / predicted - 1) < 0.05, (sigma, measured, predicted)


def test_antithetic_pairs_cancel_the_linear_term():
    """Per pair (N, -N) the mean MSE is exactly MSE(0) + sigma^2 q: the term linear in sigma is gone, so the scatter
    between pairs is smaller than between independent draws at small sigma."""
    rng = torch.Generator().manual_seed(2)
    C = torch.nn.functional.normalize(torch.randn(5, 30, generator=rng), dim=1)
    W_k, Gamma, _ = representation(C, k=3)
    tasks = [(torch.rand(40, 30, generator=rng), (torch.rand(40, generator=rng) > 0.5).float()) for _ in range(5)]
    intact = half_mse(Gamma, W_k[None], tasks)[0].mean()
    noise = standard_draws('gaussian_noise', W_k.shape, list(range(400)))
    errors = {sigma: half_mse(Gamma, corrupt(W_k, 'gaussian_noise', sigma, noise), tasks).mean(1) for sigma in (0.1, 0.2)}
    pairs = {sigma: (e[0::2] + e[1::2]) / 2 for sigma, e in errors.items()}
    assert torch.allclose(pairs[0.2] - intact, 4 * (pairs[0.1] - intact), rtol=1e-3, atol=1e-6)
    assert pairs[0.1].std() / 2 ** 0.5 < 0.5 * errors[0.1].std()


def test_representation_reconstructs_task_vectors_up_to_rank_k():
    C = torch.nn.functional.normalize(torch.randn(4, 20, generator=torch.Generator().manual_seed(2)), dim=1)
    W_k, Gamma, S = representation(C, k=4)
    assert torch.allclose(W_k.T @ Gamma, C.T, atol=1e-5)  # T = k: exact
    assert torch.allclose(W_k @ W_k.T, torch.eye(4), atol=1e-5)
    assert abs((S ** 2).sum().item() - 4) < 1e-4  # unit rows: ||C||_F^2 = T


SMALL = ['--task_counts=4,9', '--repeats=3', '--gaussian_repeats=40', '--steps=300', '--noise_levels=0,1,2', '--levels=0,0.5,1']


def summary_error(out, T):
    return json.load(open(out / 'summary.json'))['num_tasks'][str(T)]['max_relative_standard_error']['gaussian_noise']


def test_end_to_end_digits(tmp_path, monkeypatch):
    out, visuals = tmp_path / 'out', tmp_path / 'visuals'
    result = run_script('binary_classification.py', *SMALL, f'--out_dir={out}', f'--visuals_dir={visuals}')
    assert result.returncode == 0, result.stderr
    rows = pd.read_csv(out / 'linear.csv')
    assert {'dataset', 'num_tasks', 'kind', 'level', 'repeat', 'task', 'mse'} <= set(rows.columns)
    # additive noise 3 levels x 40 draws, 2 random kinds x 3 levels x 3 draws, magnitude pruning 3 levels x 1 draw
    assert len(rows) == (4 + 9) * (3 * 40 + 2 * 3 * 3 + 3)
    # The same draws serve every level (common random numbers): deletion masks are nested as p grows.
    deleted = rows[(rows.kind == 'random_deletion') & (rows.num_tasks == 9) & (rows.task == 0)].set_index(['repeat', 'level'])
    assert (deleted.xs(0.5, level='level').sparsity <= deleted.xs(1.0, level='level').sparsity).all()
    # Each mean noisy MSE comes with its standard error over the antithetic pairs
    assert 0 < summary_error(out, 9) < 0.2
    summary = json.load(open(out / 'summary.json'))
    slopes = {int(T): entry['slope'] for T, entry in summary['num_tasks'].items()}
    assert abs(slopes[4] - 1) < 1e-4 and slopes[9] < 0.9  # T = k keeps all energy; diverse tasks spread beyond k
    sparsity = summary['num_tasks']['9']['sparsity']
    assert sparsity['magnitude_pruning']['0.5'] == 0.5 and sparsity['random_deletion']['1.0'] == 1.0
    assert sparsity['random_deletion']['0.0'] == 0.0
    npz = np.load(out / 'representation_T9.npz')
    assert npz['C'].shape == (9, 64) and npz['W'].shape == (4, 64) and npz['Gamma'].shape == (4, 9)
    for name in ['gaussian_noise', 'random_deletion', 'magnitude_pruning', 'multiplicative_noise']:
        assert (visuals / f'digits_{name}_mse.png').stat().st_size > 10_000
    assert (visuals / 'digits_slope.png').exists() and (visuals / 'digits_eval_mse.png').exists()
    # A rerun measures nothing again and reproduces the summary.
    again = run_main(monkeypatch, 'binary_classification.py', *SMALL, f'--out_dir={out}', f'--visuals_dir={visuals}')
    assert again.returncode == 0 and len(pd.read_csv(out / 'linear.csv')) == len(rows)
    assert json.load(open(out / 'summary.json'))['num_tasks']['9']['slope'] == summary['num_tasks']['9']['slope']


def test_mnist_read_through_torchvision(tmp_path, monkeypatch):
    for train, count in ((True, 600), (False, 200)):
        write_mnist(tmp_path / 'data', *synthetic_digits(count, seed=int(train)), train=train)
    out = tmp_path / 'out'
    result = run_main(monkeypatch, 'binary_classification.py', '--dataset=mnist', f'--data_root={tmp_path / "data"}',
                        '--task_counts=4', '--max_samples=200', '--repeats=2', '--steps=100', '--noise_levels=0,1',
                        '--levels=0,0.5', f'--out_dir={out}', f'--visuals_dir={tmp_path / "v"}')
    assert result.returncode == 0, result.stderr
    assert set(pd.read_csv(out / 'linear.csv').dataset) == {'mnist'}
    assert np.load(out / 'representation_T4.npz')['W'].shape == (4, 784)
    assert (tmp_path / 'v' / 'mnist_gaussian_noise_mse.png').exists()


def test_gram_form_trains_the_same_task_vectors():
    """With more samples than pixels, training runs on Gram matrices: the result must not change."""
    rng = torch.Generator().manual_seed(3)
    tasks = [(torch.rand(40, 10, generator=rng), (torch.rand(40, generator=rng) > 0.5).float()) for _ in range(3)]
    trained = []
    for gram in (True, False):
        torch.manual_seed(0)
        trained.append(train_task_vectors(tasks, 100, 5e-3, 1e-4, 1e-3, gram=gram))
    assert torch.allclose(trained[0], trained[1], atol=1e-4)
    assert not torch.allclose(trained[0], torch.nn.functional.normalize(torch.randn(3, 10, generator=torch.Generator().manual_seed(0)), dim=1), atol=1e-2)


def test_a_kind_added_to_the_registry_reaches_the_linear_representation(monkeypatch):
    """robustness/linear.py keeps no list of kinds: a new entry of the registry, with its matrix form, is all it needs."""
    from robustness.kinds import KINDS, Kind
    flip = Kind('sign_flip', None, 0.0, 1.0, False, 'levels', 'Sign flip probability',
                on_matrix=lambda W, amount, draws: torch.where(draws < amount, -W, W), sample=torch.rand)
    monkeypatch.setitem(KINDS, 'sign_flip', flip)
    W = torch.randn(3, 5)
    draws = standard_draws('sign_flip', W.shape, [1, 2])
    assert torch.equal(corrupt(W, 'sign_flip', 1.0, draws), -W.expand(2, 3, 5))
    assert torch.equal(corrupt(W, 'sign_flip', 0.0, draws), W.expand(2, 3, 5))
