import json
import math
import os

import numpy as np
import pandas as pd
import pytest
import scipy.stats
import torch

from conftest import ROOT, one_line_error, run_in_process, run_main
from idx_fixture import synthetic_digits, write_mnist
from robustness.data import as_images, load_images
from robustness.analysis.schema import read_summary
from robustness.comparison import find
from robustness.linear import task_data
from robustness.multitask import MultitaskNet, evaluate, small_resnet, stacked, train
from robustness.perturb import perturbed

SMALL = ['--task_counts=1,3', '--max_samples=120', '--epochs=40', '--train_seeds=0,1', '--repeats=2', '--width=8',
         '--kinds=random_deletion,magnitude_pruning', '--levels=0,0.1,0.5']


def digits_tasks(T, per_task=None, seed=0):
    x, y, _, _ = load_images('digits', 'data')
    return stacked(task_data(as_images(x, 'digits'), y, T, per_task, np.random.default_rng(seed)))


def test_each_task_keeps_its_own_images_and_labels():
    """The paper's training step fed the first task's images to every task: here every sample carries its own."""
    x = np.repeat(np.arange(10, dtype=np.float32), 20)[:, None, None, None] * np.ones((1, 1, 8, 8), np.float32)
    y = np.repeat(np.arange(10), 20)  # each image's pixels hold its class
    images, task_ids, labels = stacked(task_data(x, y, 5, 12, np.random.default_rng(0)))
    classes = images[:, 0, 0, 0]
    assert set(task_ids.tolist()) == set(range(5))
    assert torch.all((classes == task_ids) | (classes == task_ids + 1))
    assert torch.equal(labels, (classes == task_ids + 1).float())


@pytest.mark.parametrize('T', range(1, 10))
def test_per_task_sample_budget(T):
    max_samples = 225
    _, task_ids, labels = digits_tasks(T, max_samples // T)
    assert torch.bincount(task_ids).tolist() == [max_samples // T] * T
    assert len(labels) == T * (max_samples // T) <= max_samples


@pytest.mark.numeric
def test_training_learns_every_task():
    """Had one task's images served every task (the paper's bug), tasks 1 and 2 would sit near chance."""
    torch.manual_seed(0)
    model = MultitaskNet(small_resnet(1, 8), 16, 3)
    images, task_ids, labels = digits_tasks(3, 60)
    train(model, images, task_ids, labels, epochs=30, batch_size=32, lr=2e-3, weight_decay=1e-4,
          generator=torch.Generator().manual_seed(0))
    accuracy, loss = evaluate(model, *digits_tasks(3), 3)
    assert accuracy.shape == (3,) and np.all(accuracy > 0.9), accuracy


def test_deleting_every_head_weight_gives_chance():
    torch.manual_seed(0)
    model = MultitaskNet(small_resnet(1, 8), 16, 4).eval()
    images, task_ids, labels = digits_tasks(4)
    with perturbed(model, 'random_deletion', 1.0, scope='heads') as damage:
        assert damage.sparsity == 1.0
        accuracy, loss = evaluate(model, images, task_ids, labels, 4)
    label0_share = [float((labels[task_ids == t] == 0).float().mean()) for t in range(4)]
    assert accuracy == pytest.approx(label0_share)  # all logits are 0: every sample is called label 0
    assert loss == pytest.approx([math.log(2)] * 4, rel=1e-5)  # float32


def test_cifar_layout():
    x = np.arange(2 * 32 * 32 * 3, dtype=np.float32).reshape(2, 32, 32, 3)  # torchvision's CIFAR-10: HWC
    images = as_images(x.reshape(2, -1), 'cifar10')
    assert images.shape == (2, 3, 32, 32) and np.array_equal(images[1, 2], x[1, :, :, 2])


def test_end_to_end_and_resume(run, tmp_path, monkeypatch):
    out, visuals = tmp_path / 'out', tmp_path / 'v'
    result = run('non_linear.py', *SMALL, f'--out_dir={out}', f'--visuals_dir={visuals}')
    assert result.returncode == 0, result.stderr
    rows = pd.read_csv(out / 'nonlinear.csv')
    assert {'dataset', 'num_tasks', 'kind', 'scope', 'level', 'repeat', 'task', 'accuracy', 'loss',
            'train_seed'} <= set(rows.columns)
    # T=1 and T=3, 2 training seeds; random deletion: level 0 once + 2 levels x 2 draws; pruning: 3 levels; 3 scopes.
    assert len(rows) == (1 + 3) * 2 * 3 * ((1 + 2 * 2) + 3)
    assert set(rows.repeat) == {0, 1}  # the draw index (the damage seed is seed + repeat)
    intact = rows[rows.level == 0]
    assert intact.accuracy.min() > 0.85  # every task of every model learned from its own images
    # on 2 cores each (T, training seed) is a process with a log of its own
    assert len(list((out / 'logs').glob('T*_seed*.out'))) == 4 and not list(out.glob('nonlinear.part*'))
    summary = read_summary(out / 'summary.json')
    # the primary statistic, recomputed here: retained areas of the mean task accuracy per (T, seed), from intact
    # down to chance, and the change from T=1 to T=3 along their least-squares line
    entry = find(summary['comparisons'], kind='random_deletion', scope='backbone')
    per_draw = rows[(rows.kind == 'random_deletion') & (rows.scope == 'backbone')].groupby(
        ['num_tasks', 'train_seed', 'level', 'repeat'])['accuracy'].mean()
    xs, areas = [], []
    for (T, seed), draws in per_draw.groupby(['num_tasks', 'train_seed']):
        curve = draws.groupby('level').mean()
        kept = 1 - ((curve[0] - curve) / (curve[0] - 0.5)).clip(0, 1)
        xs.append(T)
        areas.append(float(np.trapezoid(kept.to_numpy(), kept.index.to_numpy()) / kept.index.max()))
    area = entry.measures['retained_area']
    assert [a for T in (1, 3) for a in area['per_model'][str(T)]] == pytest.approx(areas, abs=1e-12)
    fit = scipy.stats.linregress(xs, areas)
    assert entry.estimate == pytest.approx(2 * fit.slope, abs=1e-12) and area['test']['df'] == 2
    assert area['test']['p'] == pytest.approx(fit.pvalue, rel=1e-9)
    assert summary['answer']['rows'] == 6 and set(entry.measures) == {'retained_area', 'mean_excess', 'mean_log_ratio'}
    for row in summary['comparisons']:  # one verdict per row, its interval within what is possible
        assert row.outcome in ('higher', 'lower', 'equivalent', 'within the margin', 'depends on the measure',
                               'inconclusive', 'no verdict') and row.verdict
        assert row.ci is None or -1 <= row.ci[0] <= row.ci[1] <= 1
    for kind in ('random_deletion', 'magnitude_pruning'):
        assert (visuals / f'digits_nonlinear_{kind}.png').exists()
    assert json.load(open(out / 'config.json'))['max_samples'] == 120

    # one process measures what the workers measured, to the bit
    single = run_main(monkeypatch, 'non_linear.py', *SMALL, '--jobs=1', f'--out_dir={tmp_path / "single"}',
                      f'--visuals_dir={visuals}')
    assert single.returncode == 0, single.stderr
    by = ['num_tasks', 'train_seed', 'kind', 'scope', 'level', 'repeat', 'task']
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / 'single' / 'nonlinear.csv').sort_values(by).reset_index(drop=True),
                                  rows.sort_values(by).reset_index(drop=True))

    # A rerun trains nothing; two lost trials (3 task rows each) are measured again, with the same values.
    rows.iloc[:-6].to_csv(out / 'nonlinear.csv', index=False)
    saved = {path: path.stat().st_mtime_ns for path in (out / 'models').iterdir()}
    again = run_main(monkeypatch, 'non_linear.py', *SMALL, f'--out_dir={out}', f'--visuals_dir={visuals}')
    assert again.returncode == 0, again.stderr
    assert {path: path.stat().st_mtime_ns for path in (out / 'models').iterdir()} == saved  # reused, not trained
    resumed = pd.read_csv(out / 'nonlinear.csv')
    pd.testing.assert_frame_equal(resumed, rows)


def test_mnist_through_torchvision_with_resnet18(run, tmp_path, monkeypatch):
    for train_split, count in ((True, 300), (False, 100)):
        write_mnist(tmp_path / 'data', *synthetic_digits(count, seed=int(train_split)), train=train_split)
    out = tmp_path / 'out'
    result = run_main(monkeypatch, 'non_linear.py', '--dataset=mnist', f'--data_root={tmp_path / "data"}', '--task_counts=2',
                 '--max_samples=40', '--epochs=1', '--train_seeds=0', '--kinds=random_deletion', '--scope=all',
                 '--levels=0,0.5', '--repeats=1', f'--out_dir={out}', f'--visuals_dir={tmp_path / "v"}')
    assert result.returncode == 0, result.stderr
    first = torch.load(out / 'models' / 'T2_seed0.pt')['backbone.conv1.weight']
    assert first.shape[1] == 3  # resnet18, grey images repeated to 3 channels
    assert set(pd.read_csv(out / 'nonlinear.csv').num_tasks) == {2}


def test_paper_config_is_valid(run, tmp_path, monkeypatch):
    """configs/non_linear_cifar10.py parses; offline, it stops at the ImageNet weights, before reading any data."""
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch_home'))
    message = one_line_error(run_in_process(monkeypatch, 'non_linear.py', os.path.join(ROOT, 'configs/non_linear_cifar10.py'),
                                            f'--out_dir={tmp_path / "out"}'))
    assert message.startswith('error: pretrained: torchvision'), message
