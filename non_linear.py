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
out_dir/summary.json (how accuracy under damage changes with T, with 95% bootstrap intervals over training
seeds and draws), out_dir/config.json and visuals_dir/<dataset>_nonlinear_<kind>.png.
"""

import json
import os
import time

import numpy as np
import torch

from robustness import plots
from robustness.config import check, check_choices, check_range, configure, save_config
from robustness.data import IMAGE_DATASETS, NUM_CLASSES, as_images, load_images
from robustness.linear import check_sample_budget, task_data
from robustness.multitask import MultitaskNet, evaluate, resnet18_backbone, small_resnet, stacked, train
from robustness.perturb import AMOUNT_RANGES, CONV_SCOPES, KIND_TABLE, KINDS, TRANSFORMER_KINDS
from robustness.report import record_run
from robustness.runtime import run_parallel, seed_everything, setup
from robustness.stats import half_failure_of, interval, slope, two_level_bootstrap, verdict
from robustness.sweep import check_grids, claim, merge_parts, open_log, pending, run_trials, trial_grid

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
levels = [0.0, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9, 1.0]  # deletion probability / fraction pruned, every kind but gaussian_noise (the paper's grid went to 0.4; the heads bend late)
noise_levels = [0.0, 0.025, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0]  # std of the added noise, gaussian_noise (the backbone fails by 0.1, the heads past 0.5)
repeats = 3                # draws per level of each random kind (deterministic kinds: 1)
nm_group = 4               # nm_pruning: weights per group along a matrix's input channels (level 0.5 = 2:4)
seed = 0                   # seeds the data split, task samples and draws (draw r of a level uses seed + r)
device = 'auto'            # auto | cpu | cuda
jobs = 0                   # CPU: models (T x training seed) trained and swept at once, one process each (0 = as many as cores)
eval_batch_size = 1024     # test images per forward pass
bootstrap = 2000           # bootstrap resamples for the confidence intervals
failure_fraction = 0.5     # half-failure level: the damage at which accuracy has gone this far from intact to chance
# output
out_dir = 'results/non_linear'
visuals_dir = 'visuals'
# -----------------------------------------------------------------------------
config = configure(globals(), renamed={'seeds': 'repeats', 'pruning_levels': 'levels'})

# Validate everything before anything is read, trained or written.
check_choices('dataset', dataset, IMAGE_DATASETS)
check(0 < failure_fraction < 1, f"failure_fraction: {failure_fraction} must lie in (0, 1)")
check_choices('backbone', backbone, ('auto', 'small', 'resnet18'))
architecture = ('small' if dataset == 'digits' else 'resnet18') if backbone == 'auto' else backbone
check(not pretrained or architecture == 'resnet18', "pretrained: only the resnet18 backbone has pretrained weights")
check(task_counts, "task_counts: give at least one task count")
check_range('task_counts', task_counts, 1, NUM_CLASSES[dataset] - 1)  # T tasks need classes 0..T
check(kinds, "kinds: name at least one kind")
check_choices('kinds', kinds, [kind for kind in KINDS if kind not in TRANSFORMER_KINDS])
scopes = scope if isinstance(scope, (list, tuple)) else [scope]
check(scopes, "scope: name at least one scope")
check_choices('scope', scopes, CONV_SCOPES)
check_range('levels', levels, *AMOUNT_RANGES['random_deletion'])
check_range('noise_levels', noise_levels, *AMOUNT_RANGES['gaussian_noise'])
grids = {'levels': levels, 'noise_levels': noise_levels}
check_grids(kinds, grids)
check(train_seeds, "train_seeds: give at least one training seed")
for name in ('max_samples', 'width', 'epochs', 'batch_size', 'repeats', 'eval_batch_size', 'bootstrap', 'nm_group'):
    check_range(name, config[name], 1)
check_range('jobs', jobs, 0)
check(lr > 0, f"lr: {lr} must be positive")
if pretrained:
    resnet18_backbone(pretrained)  # fails now, before anything is read or written, when the weights cannot be had

x_train, y_train, x_test, y_test = load_images(dataset, data_root, seed=seed)
check_sample_budget(y_train, task_counts, max_samples, dataset)
x_train, x_test = as_images(x_train, dataset), as_images(x_test, dataset)
channels = x_train.shape[1]


def build_model(num_tasks):
    if architecture == 'small':
        return MultitaskNet(small_resnet(channels, width), 2 * width, num_tasks)
    return MultitaskNet(resnet18_backbone(pretrained), 512, num_tasks)


# Inputs are standardised per channel: with ImageNet's statistics for pretrained weights, else with the training
# images' own. ResNet-18 takes three channels: grey images are repeated.
if architecture == 'resnet18':
    x_train, x_test = (np.repeat(x, 3 // channels, axis=1) for x in (x_train, x_test))
if pretrained:
    mean, std = np.array([0.485, 0.456, 0.406], np.float32), np.array([0.229, 0.224, 0.225], np.float32)
else:
    mean, std = x_train.mean(axis=(0, 2, 3)), x_train.std(axis=(0, 2, 3))
x_train, x_test = ((x - mean[None, :, None, None]) / std[None, :, None, None] for x in (x_train, x_test))


# -----------------------------------------------------------------------------
rt = setup(device)
if rt.device.type == 'cpu':
    torch.set_num_threads(1)  # small convolutions: a second thread only waits, and far longer on a shared machine
os.makedirs(os.path.join(out_dir, 'models'), exist_ok=True)
claim(out_dir)
save_config(config, os.path.join(out_dir, 'config.json'))
print(f"{dataset}: {len(x_train)} training and {len(x_test)} test images {tuple(x_train.shape[1:])}; backbone "
      f"{architecture}{' (ImageNet weights)' if pretrained else ''} on {rt.device}")

COLUMNS = ['dataset', 'num_tasks', 'train_seed', 'kind', 'scope', 'level', 'repeat', 'task', 'accuracy', 'loss',
           'sparsity']
KEY = ('dataset', 'num_tasks', 'train_seed', 'kind', 'scope', 'level', 'repeat')
grid = trial_grid(kinds, scopes, ['all'], grids, repeats)


def train_and_measure(T, train_seed, part=None):
    """Train the model of (T, train_seed), or load it from an earlier run, and measure the trials that no log holds
    yet, into nonlinear.csv or into its part file `part` (a process of its own)."""
    started = time.time()
    log, measured = open_log(out_dir, 'nonlinear.csv', COLUMNS, KEY, part=part)
    test_images, test_tasks, test_labels = (tensor.to(rt.device) for tensor in stacked(task_data(x_test, y_test, T)))
    trials = pending(grid, measured, lambda t: dict(dataset=dataset, num_tasks=T, train_seed=train_seed, kind=t.kind,
                                                   scope=t.scope, level=t.level, repeat=t.repeat))
    if not trials:
        return
    seed_everything(train_seed)
    model = build_model(T).to(rt.device)
    checkpoint = os.path.join(out_dir, 'models', f'T{T}_seed{train_seed}.pt')
    if os.path.exists(checkpoint):  # trained by an earlier, interrupted run
        model.load_state_dict(torch.load(checkpoint, map_location=rt.device))
        model.eval()
    else:
        # The task samples depend on (seed, T) only: training seeds differ in initialisation and batch order.
        train_images, train_tasks, train_labels = stacked(task_data(x_train, y_train, T, max_samples // T,
                                                                    np.random.default_rng([seed, T])))
        train(model, train_images, train_tasks, train_labels, epochs, batch_size, lr, weight_decay,
              torch.Generator().manual_seed(train_seed))
        torch.save(model.state_dict(), checkpoint)
        print(f"T={T} seed {train_seed}: trained on {len(train_labels)} samples ({max_samples // T} per task) "
              f"in {time.time() - started:.1f} s")

    def record(trial, result, sparsity, seconds):
        accuracy, loss = result
        log.write_rows([dict(dataset=dataset, num_tasks=T, train_seed=train_seed, kind=trial.kind, scope=trial.scope,
                             level=trial.level, repeat=trial.repeat, task=t, accuracy=float(accuracy[t]),
                             loss=float(loss[t]), sparsity=sparsity) for t in range(T)])

    run_trials(model, trials, lambda: evaluate(model, test_images, test_tasks, test_labels, T, eval_batch_size),
               record, seed, options=lambda kind: {'group': nm_group} if kind == 'nm_pruning' else {},
               desc=f'T={T} seed {train_seed}')
    print(f"T={T} seed {train_seed}: trained and measured in {time.time() - started:.1f} s")


started = time.time()
units = [(T, train_seed) for T in task_counts for train_seed in train_seeds]
slots = min(len(units), jobs or os.cpu_count() or 1)
if rt.device.type == 'cpu' and slots > 1:  # each (T, training seed) in a single-thread process, into a part file
    run_parallel(train_and_measure, [(f'T{T}_seed{s}', (T, s, f'_T{T}_seed{s}')) for T, s in units], slots,
                 os.path.join(out_dir, 'logs'), 'jobs')
else:
    for T, train_seed in units:
        train_and_measure(T, train_seed)
log = merge_parts(out_dir, 'nonlinear.csv', COLUMNS, KEY)
print(f"trained and measured in {time.time() - started:.1f} s")

# -----------------------------------------------------------------------------
# Summary, from the CSV: does accuracy under damage rise with T?
results = log.read()
results['train_seed'] = results['train_seed'].astype(int)  # every model here has its training seed
results = results[(results.dataset == dataset) & results.num_tasks.isin(task_counts)
                  & results.train_seed.isin(train_seeds) & results.kind.isin(kinds) & results.scope.isin(scopes)]
# One number per trial: the mean over the model's tasks (as the paper averages).
per_draw = results.groupby(['num_tasks', 'train_seed', 'kind', 'scope', 'level', 'repeat'],
                           as_index=False)[['accuracy', 'loss']].mean()
# The same on task 0 alone (class 0 vs 1), which every T shares: a like-for-like comparison across T, free of the
# changing mix of tasks.
task0 = results[results.task == 0].groupby(['num_tasks', 'train_seed', 'kind', 'scope', 'level', 'repeat'],
                                            as_index=False)[['accuracy', 'loss']].mean()
rng = np.random.default_rng(seed)
counts = sorted(set(task_counts))
summary = {'dataset': dataset, 'backbone': architecture, 'pretrained': pretrained, 'task_counts': counts,
           'measure': 'mean task accuracy, averaged over the damaged levels; drop = clean accuracy minus that; slopes '
                      'are per added task, with 95% intervals from a bootstrap over training seeds, then draws; '
                      f'half-failure: the level where accuracy has gone {failure_fraction} of the way from intact to '
                      'chance (0.5), mean over training seeds',
           'clean_accuracy': {}, 'comparisons': {}, 'task_0': {}, 'half_failure': {}}
clean_rows = per_draw[per_draw.level == 0].groupby(['num_tasks', 'train_seed'])['accuracy'].first()
for T in counts:
    summary['clean_accuracy'][T] = float(clean_rows.loc[T].mean()) if T in clean_rows.index.get_level_values(0) else None
print(f"clean accuracy (mean over tasks and training seeds): "
      + ', '.join(f"T={T} {value:.3f}" for T, value in summary['clean_accuracy'].items() if value is not None))


def trend(rows):
    """How damaged accuracy (mean over the damaged levels) and its drop from clean change with T, with slopes and
    95% intervals from the two-level bootstrap; None for an incomplete grid (summarised once it is complete)."""
    damaged = rows[rows.level > 0]
    if damaged.empty or len(counts) < 2:
        return None
    # values[T, training seed, draw]: damaged accuracy averaged over the levels, and its drop from clean.
    by_draw = damaged.groupby(['num_tasks', 'train_seed', 'repeat'])['accuracy'].mean()
    shape = (len(counts), len(train_seeds), int(by_draw.groupby(['num_tasks', 'train_seed']).size().min()))
    if np.prod(shape) != len(by_draw):
        return None
    accuracy = by_draw.to_numpy().reshape(shape)
    clean = rows[rows.level == 0].groupby(['num_tasks', 'train_seed'])['accuracy'].first()
    drop = np.array([[clean.loc[(T, s)] for s in sorted(train_seeds)] for T in counts])[:, :, None] - accuracy
    entry = {'levels': sorted(float(level) for level in damaged.level.unique()), 'training_seeds': shape[1],
             'draws': shape[2], 'damaged_accuracy': accuracy.mean(axis=(1, 2)).tolist()}
    for name, values in (('damaged_accuracy', accuracy), ('drop', drop)):
        boot = slope(counts, two_level_bootstrap(values, bootstrap, rng))
        entry[f'{name}_slope'] = float(slope(counts, values.mean(axis=(1, 2))))
        entry[f'{name}_slope_ci95'] = interval(boot)
    entry['verdict'] = verdict(entry['damaged_accuracy_slope_ci95'], 'rises with T', 'falls with T',
                               'no trend with T detectable')
    return entry


show_level = lambda entry: 'n/a' if entry is None else f"{entry['level']:.3f}" if entry['reached'] else 'not reached'
for kind in kinds:
    for scope_name in scopes:
        name = f'{kind} | {scope_name}'
        for key, frame in (('comparisons', per_draw), ('task_0', task0)):
            entry = trend(frame[(frame.kind == kind) & (frame.scope == scope_name)])
            if entry is not None:
                summary[key][name] = entry
        levels = {}
        for T in counts:
            rows = per_draw[(per_draw.kind == kind) & (per_draw.scope == scope_name) & (per_draw.num_tasks == T)]
            levels[T] = half_failure_of(rows, 'accuracy', dict.fromkeys(rows.train_seed.unique(), 0.5), failure_fraction)
        summary['half_failure'][name] = levels
with open(os.path.join(out_dir, 'summary.json'), 'w') as f:
    json.dump(summary, f, indent=2)
print(f"wrote {os.path.join(out_dir, 'summary.json')}")
show = lambda ci: f"[{ci[0]:+.4f}, {ci[1]:+.4f}]" if ci else "(no interval)"
for name, entry in summary['comparisons'].items():
    same = summary['task_0'].get(name)
    print(f"  {name}: accuracy under damage: {entry['verdict']} (slope {entry['damaged_accuracy_slope']:+.4f} per task, "
          f"95% CI {show(entry['damaged_accuracy_slope_ci95'])}; drop from clean {entry['drop_slope']:+.4f} per task, "
          f"95% CI {show(entry['drop_slope_ci95'])}); on task 0 alone: "
          + (f"{same['verdict']} ({same['damaged_accuracy_slope']:+.4f}, 95% CI {show(same['damaged_accuracy_slope_ci95'])})"
             if same else 'n/a') + "; half-failure level by T: "
          + ', '.join(f"T={T} {show_level(level)}" for T, level in summary['half_failure'][name].items()))

# -----------------------------------------------------------------------------
# Figures: one per kind, a panel per scope; accuracy against level, one curve per T, mean ± std.
XLABELS = {'random_deletion': 'Deletion probability p', 'neuron_deletion': 'Channel deletion probability p',
           'magnitude_pruning': 'Fraction pruned (smallest |w| per tensor)',
           'global_magnitude_pruning': 'Fraction pruned (smallest |w| overall)', 'gaussian_noise': 'Weight noise std',
           'nm_pruning': f'N:M pruning fraction (groups of {nm_group} input channels)'}
for kind in kinds:
    rows = per_draw[per_draw.kind == kind]
    if rows.empty:
        continue
    fig, axes = plots.figure(ncols=len(scopes), width=5.2, height=4.2)
    for ax, scope_name in zip(axes, scopes):
        part = rows[rows.scope == scope_name]
        plots.errorbar_lines(ax, part, 'level', 'accuracy', 'num_tasks', label=lambda T: f"Num tasks: {T}",
                                     std_label=False)
        ax.axhline(0.5, color='grey', linestyle=':', linewidth=1)  # chance: every task is balanced
        draws = 1 if KIND_TABLE[kind].deterministic else repeats
        ax.legend(title=f"mean ± std over {len(train_seeds)} training seeds x {draws} draws", fontsize=9)
        ax.set_xlabel(XLABELS[kind])
        ax.set_ylabel('Mean task accuracy')
        ax.set_title(f"{dataset}, scope: {scope_name}", fontsize=11)
    plots.save(fig, os.path.join(visuals_dir, f'{dataset}_nonlinear_{kind}.png'))
record_run(out_dir)
