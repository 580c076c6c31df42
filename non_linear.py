"""Does the linear theory's prediction hold in a deep network? A ResNet backbone shared by T binary tasks,
damaged in place, accuracy per task.

The paper repository's non-linear experiment: a ResNet gives a representation r(x) and a head matrix C
(T x d) scores task t as C[t] . r(x). Task t separates class t (label 0) from class t+1 (label 1), as in
binary_classification.py, and every T trains on the same total, `max_samples // T` samples per task.
After training, the weights are damaged (robustness.perturb: random deletion, magnitude pruning, global
magnitude pruning, Gaussian noise, neuron/channel deletion; in the backbone, the heads or all of it,
restored bit for bit after each trial) and every task's test accuracy and loss are measured. The question:
does accuracy under damage rise with T?

Two bugs of the paper's code are fixed: its training step fed the first task's images to every task (with
each task's own labels), and one random key served every tensor and level, so each curve was one draw.
Here each sample carries its own image, task and label, and every draw has its own seed.

    python non_linear.py                       # digits (scikit-learn), a small ResNet from scratch, CPU, minutes
    python non_linear.py configs/non_linear_cifar10.py --data_root=data   # the paper's scale: ImageNet ResNet-18, a GPU
    python non_linear.py --help

Writes out_dir/nonlinear.csv (one row per T x training seed x kind x scope x level x repeat x task,
appended as measured; a rerun skips rows already there and reuses the trained models in out_dir/models/),
out_dir/summary.json (per kind and scope, a verdict on how the retained area of accuracy changes with T,
Holm-corrected over the table: docs/statistics.md), out_dir/config.json and visuals_dir/<dataset>_nonlinear_<kind>.png.
"""

import functools
import os
import time
from dataclasses import dataclass

import numpy as np
import torch

from robustness.analysis.non_linear import TABLE, analyze
from robustness.config import check, check_choices, check_range, configure, save_config, settings_checked
from robustness.data import IMAGE_DATASETS, NUM_CLASSES, as_images, load_images
from robustness.linear import check_sample_budget, task_data
from robustness.lock import claim
from robustness.multitask import MultitaskNet, evaluate, resnet18_backbone, small_resnet, stacked, train
from robustness.kinds import KINDS, conv_kinds
from robustness.processes import run_jobs
from robustness.provenance import record_run
from robustness.runtime import seed_everything, setup
from robustness.scopes import CONV_SCOPES, scoped_parameters
from robustness.settings import validate
from robustness.stats import CLASSIFIER_MEASURES
from robustness.sweep import merge_parts, open_log, pending, run_trials, trial_grid

# -----------------------------------------------------------------------------
# data
dataset = 'digits'         # digits (scikit-learn, offline) | mnist | cifar10 (torchvision, read from data_root)
data_root = 'data'         # where torchvision finds, or downloads, mnist and cifar10
task_counts = [1, 3, 5, 7, 9]  # numbers of tasks T; task t separates class t (label 0) from class t+1 (label 1)
max_samples = 240          # training samples shared by all tasks: max_samples // T per task (the paper: 10,000)
# model and training
backbone = 'auto'          # auto (small for digits, resnet18 otherwise) | small (a ResNet for 8x8 images) | resnet18
width = 16                 # small backbone: channels of its first stage (the representation has 2 x width)
pretrained = False         # resnet18: start from torchvision's ImageNet weights (downloaded when online)
epochs = 60                # passes over the max_samples training samples (the paper: 3, from ImageNet weights)
batch_size = 32            # samples per step, drawn from all tasks together; every T takes the same steps
lr = 2e-3                  # AdamW learning rate (the paper: 1e-4, from ImageNet weights)
weight_decay = 1e-4        # AdamW weight decay
train_seeds = [0, 1, 2, 3, 4]  # one model per T and training seed: intervals include the training variation
# damage
kinds = ['random_deletion', 'magnitude_pruning', 'global_magnitude_pruning', 'gaussian_noise', 'neuron_deletion']
scope = ['backbone', 'heads', 'all']  # backbone | heads | all
levels = [0.0, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9, 1.0]  # deletion probability / fraction pruned, every kind but
                                                   # gaussian_noise (the paper's grid went to 0.4; the heads bend late)
noise_levels = [0.0, 0.025, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0]  # std of the added noise, gaussian_noise (the backbone fails
                                                            # by 0.1, the heads past 0.5)
repeats = 3                # draws per level of each random kind (deterministic kinds: 1)
nm_group = 4               # nm_pruning: weights per group along a matrix's input channels (level 0.5 = 2:4)
seed = 0                   # seeds the data split, task samples and draws (draw r of a level uses seed + r)
device = 'auto'            # auto | cpu | cuda
jobs = 0                   # CPU: models (T x training seed) trained and swept at once, one process each (0 = as many as
                           # cores)
eval_batch_size = 1024     # test images per forward pass
measures = ['retained_area', 'mean_excess', 'mean_log_ratio']  # the measures a trend must hold under, every one
                           # (docs/statistics.md)
equivalence_margin = 0.05  # retained area: "equivalent" (no trend) when every measure's corrected interval lies within
                           # its margin; this one's is +- this
relative_margin = 0.05     # mean excess and mean log ratio: their margin, this fraction of the intact accuracy (excess)
                           # or log(1 + this)
failure_fraction = 0.5     # half-failure level (description): the damage at which accuracy has gone this far from
                           # intact to chance
# output
out_dir = 'results/non_linear'
visuals_dir = 'visuals'
# -----------------------------------------------------------------------------
config = configure(globals(), renamed={'seeds': 'repeats', 'pruning_levels': 'levels'})

# Validate everything before anything is read, trained or written: the settings the scripts share, then this
# script's own.
validate(config, kinds=conv_kinds(), scopes=CONV_SCOPES, measures=CLASSIFIER_MEASURES)
check_choices('dataset', dataset, IMAGE_DATASETS)
check_choices('backbone', backbone, ('auto', 'small', 'resnet18'))


def architecture():
    """The backbone: `backbone`, or for auto the small ResNet on digits and ResNet-18 on the others."""
    return ('small' if dataset == 'digits' else 'resnet18') if backbone == 'auto' else backbone


check(not pretrained or architecture() == 'resnet18', "pretrained: only the resnet18 backbone has pretrained weights")
check_range('task_counts', task_counts, 1, NUM_CLASSES[dataset] - 1)  # T tasks need classes 0..T
settings_checked()
if pretrained:
    resnet18_backbone(pretrained)  # fails now, before anything is read or written, when the weights cannot be had


@dataclass(frozen=True)
class Images:
    """The training and test images (standardised, N x channels x H x W) and their class labels."""
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


@dataclass(frozen=True)
class Sweep:
    """What every model is damaged with: the trials (robustness.sweep.Trial), the damage seed, each kind's perturb
    options, the evaluation batch."""
    trials: list
    seed: int
    options: dict
    eval_batch_size: int


def build_model(num_tasks, channels, weights):
    """The network of T tasks for images of `channels` channels; `weights`: resnet18 starts from ImageNet's."""
    if architecture() == 'small':
        return MultitaskNet(small_resnet(channels, width), 2 * width, num_tasks)
    return MultitaskNet(resnet18_backbone(weights), 512, num_tasks)


def standardised(x_train, x_test):
    """The images standardised per channel: with ImageNet's statistics for pretrained weights, else with the
    training images' own. ResNet-18 takes three channels: grey images are repeated."""
    if architecture() == 'resnet18':
        x_train, x_test = (np.repeat(x, 3 // x.shape[1], axis=1) for x in (x_train, x_test))
    if pretrained:
        mean, std = np.array([0.485, 0.456, 0.406], np.float32), np.array([0.229, 0.224, 0.225], np.float32)
    else:
        mean, std = x_train.mean(axis=(0, 2, 3)), x_train.std(axis=(0, 2, 3))
    return ((x - mean[None, :, None, None]) / std[None, :, None, None] for x in (x_train, x_test))


def trained_model(T, train_seed, images, device):
    """The model of (T, train_seed): trained on max_samples // T samples of each task (drawn from (seed, T) alone:
    training seeds differ in initialisation and batch order), or loaded from an earlier run's out_dir/models/."""
    started = time.time()
    seed_everything(train_seed)
    model = build_model(T, images.x_train.shape[1], pretrained).to(device)
    checkpoint = os.path.join(out_dir, 'models', f'T{T}_seed{train_seed}.pt')
    if os.path.exists(checkpoint):  # trained by an earlier, interrupted run
        model.load_state_dict(torch.load(checkpoint, map_location=device))
        return model.eval()
    per_task = max_samples // T
    train_images, train_tasks, train_labels = stacked(task_data(images.x_train, images.y_train, T, per_task,
                                                                np.random.default_rng([seed, T])))
    train(model, train_images, train_tasks, train_labels, epochs, batch_size, lr, weight_decay,
          torch.Generator().manual_seed(train_seed))
    torch.save(model.state_dict(), checkpoint)
    print(f"T={T} seed {train_seed}: trained on {len(train_labels)} samples ({per_task} per task) "
          f"in {time.time() - started:.1f} s")
    return model


def write_rows(log, model_key, T, trial, result, sparsity, seconds):
    """A row per task of one trial of the model `model_key` ({dataset, num_tasks, train_seed})."""
    accuracy, loss = result
    log.write_rows([dict(**model_key, kind=trial.kind, scope=trial.scope, level=trial.level, repeat=trial.repeat,
                         task=t, accuracy=float(accuracy[t]), loss=float(loss[t]), sparsity=sparsity)
                    for t in range(T)])


def train_and_measure(T, train_seed, images, sweep, device, part=None):
    """Train the model of (T, train_seed), or load it from an earlier run, and measure the trials that no log holds
    yet, into nonlinear.csv or into its part file `part` (a process of its own)."""
    started = time.time()
    model_key = dict(dataset=dataset, num_tasks=T, train_seed=train_seed)  # its rows' key
    log, measured = open_log(out_dir, TABLE, part=part)
    test_images, test_tasks, test_labels = (tensor.to(device) for tensor in stacked(task_data(images.x_test,
                                                                                                 images.y_test, T)))
    trials = pending(sweep.trials, measured, lambda t: dict(**model_key, kind=t.kind, scope=t.scope, level=t.level,
                                                             repeat=t.repeat))
    if not trials:
        return
    model = trained_model(T, train_seed, images, device)
    score = functools.partial(scores, model, test_images, test_tasks, test_labels, T, sweep.eval_batch_size)
    run_trials(model, trials, score, functools.partial(write_rows, log, model_key, T), sweep.seed,
               options=sweep.options, desc=f'T={T} seed {train_seed}')
    print(f"T={T} seed {train_seed}: trained and measured in {time.time() - started:.1f} s")


def scores(model, images, tasks, labels, T, eval_batch_size, trial):
    """The accuracy and loss of every task under the model's current weights."""
    return evaluate(model, images, tasks, labels, T, eval_batch_size)


# -----------------------------------------------------------------------------
x_train, y_train, x_test, y_test = load_images(dataset, data_root, seed=seed)
check_sample_budget(y_train, task_counts, max_samples, dataset)
x_train, x_test = standardised(*(as_images(x, dataset) for x in (x_train, x_test)))
images = Images(x_train, y_train, x_test, y_test)
rt = setup(device)
if rt.device.type == 'cpu':
    torch.set_num_threads(1)  # small convolutions: a second thread only waits, and far longer on a shared machine
claim(out_dir)
os.makedirs(os.path.join(out_dir, 'models'), exist_ok=True)
save_config(config, os.path.join(out_dir, 'config.json'))
print(f"{dataset}: {len(x_train)} training and {len(x_test)} test images {tuple(x_train.shape[1:])}; backbone "
      f"{architecture()}{' (ImageNet weights)' if pretrained else ''} on {rt.device}")

started = time.time()
# a scope of one tensor (the heads: one matrix) gets one row where two kinds give the same masks there
with torch.device('meta'):  # the skeleton: no weights
    skeleton = build_model(max(task_counts), x_train.shape[1], weights=False)
single_tensor_scopes = [name for name in scope if len(scoped_parameters(skeleton, name)) == 1]
sweep = Sweep(trial_grid(kinds, scope, ['all'], {'levels': levels, 'noise_levels': noise_levels}, repeats,
                         single_tensor_scopes=single_tensor_scopes), seed,
              {kind: KINDS[kind].options_of(nm_group) for kind in kinds}, eval_batch_size)
trainings = [(T, train_seed) for T in task_counts for train_seed in train_seeds]
# on a CPU each (T, training seed) in a single-thread process of its own, into a part file
run_jobs(train_and_measure, [(f'T{T}_seed{s}', (T, s, images, sweep, rt.device)) for T, s in trainings],
          min(len(trainings), jobs or os.cpu_count() or 1), os.path.join(out_dir, 'logs'), 'jobs',
          parallel=rt.device.type == 'cpu', parts=True)
merge_parts(out_dir, TABLE)
print(f"trained and measured in {time.time() - started:.1f} s")

# -----------------------------------------------------------------------------
# Summary and figures, from the CSV alone (robustness/analysis/non_linear.py): `python -m robustness.analyze
# results/non_linear` redoes them with other analysis settings, without training or measuring again.
analyze(out_dir, config)
record_run(out_dir)
