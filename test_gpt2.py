"""Perturb the weights of monolingual and bilingual GPT-2 models and measure how English perplexity rises.

The paper's main experiment (Multitasking Models are Robust to Structural Failure, NeurIPS 2022): delete
or prune a growing share of a model's weights (or add noise to them) and evaluate the damaged model on
held-out English text. The paper found that the bilingual model, worse when intact, degrades more
slowly and is better beyond a deletion probability of about 0.13.

For every model (and, with `epochs`, every per-epoch checkpoint) x kind x scope x level x repeat, the
model is perturbed in place (robustness.perturb, restored bit for bit afterwards) and the strided
sliding-window NLL of the whole evaluation text is measured (robustness.perplexity). Per-token
perplexity depends on the tokenizer, so models with different tokenizers are compared in bits per
byte (bpb); the crossover and the paired differences in summary.json use bpb. Repeat r uses seed
`seed + r` for every model: models of the same shape get the same masks (paired comparisons).
Deterministic kinds (the pruning kinds of robustness.perturb's table), the intact model and deletion of every
weight run once per level; the floor (every weight in scope zeroed) is measured once per model and scope.

    python test_gpt2.py                            # offline default: models of train_bilingual_gpt2.py
    python test_gpt2.py --kinds=random_deletion --scope=attn --levels=0,0.1,0.2,0.3,0.4 --repeats=10
    python test_gpt2.py --models=gpt2=gpt2,mine=path/to/model --eval_file=Salesforce/wikitext:wikitext-2-raw-v1:test \\
        --max_length=1024 --stride=512             # the paper's scale (online, a GPU)
    torchrun --standalone --nproc_per_node=8 test_gpt2.py ...   # trials split across 8 GPUs, one CSV

Writes out_dir/perplexity.csv (one row per trial, appended as measured; a rerun skips rows already
there), out_dir/summary.json (crossover levels and paired differences with bootstrap confidence
intervals), out_dir/config.json, and visuals_dir/gpt2_random_delete.png, gpt2_magnitude_deletion.png
(one curve per training epoch when `epochs` finds checkpoints), gpt2_weight_noise.png.
"""

import functools
import glob
import itertools
import json
import math
import os
import re

import numpy as np
import torch
from tqdm import tqdm
from transformers import AutoModelForCausalLM

from robustness import plots
from robustness.checkpoints import check_vocabulary, expand_families, load_config, load_model, load_tokenizer
from robustness.config import check, check_choices, check_range, configure, fail, save_config
from robustness.corpora import is_text_file, read_documents
from robustness.perplexity import Perplexity, SlidingWindowNLL, encode
from robustness.perturb import AMOUNT_RANGES, KIND_TABLE, KINDS, SCOPES, check_kind
from robustness.report import record_run
from robustness.results import ResultsLog
from robustness.runtime import PRECISIONS, parse_models, parse_pairs, seed_everything, setup, teardown
from robustness.stats import compare_rows, half_failure_of
from robustness.sweep import (FLOOR_KIND, check_grids, claim, grid_of, merge_parts, mine, open_log, pending, run_trials,
                              scopes_of, trial_grid)

# -----------------------------------------------------------------------------
# models and text
models = ('monolingual=results/train_bilingual_gpt2/monolingual,bilingual=results/train_bilingual_gpt2/bilingual,'
          'control=results/train_bilingual_gpt2/control')  # comma-separated label=path: HF model dir or hub name, or a GPT-2 state-dict file (.pth, .pt, .bin, .safetensors)
tokenizers = ''            # label=folder,...: tokenizer of a state-dict entry (vocab.json + merges.txt, or tokenizer.json); default: the file's folder
n_head = 0                 # attention heads of state-dict entries (0 = width / 64, GPT-2's convention)
eval_file = 'results/train_bilingual_gpt2/eval_en.txt'  # text file (one document per line), or online a HF dataset name:config:split
eval_chars = 16000         # evaluate the first this many characters of the text, cut at a line end (0 = all of it)
epochs = True              # also evaluate every <model dir>/epoch_<e>/ checkpoint, with epoch_kinds
epoch_kinds = ['magnitude_pruning']  # kinds swept on the per-epoch checkpoints
# perturbations
kinds = ['random_deletion', 'magnitude_pruning', 'gaussian_noise', 'head_deletion']  # random_deletion | magnitude_pruning | global_magnitude_pruning | gaussian_noise | neuron_deletion | head_deletion | nm_pruning | wanda_pruning
scope = ['attn', 'blocks'] # attn (the paper's probe) | mlp | blocks | all (with embeddings)
layers = []                # perturb only these transformer blocks (0-based; empty = all)
levels = [0.0, 0.3, 0.6, 0.8, 0.9, 1.0]  # deletion probability / pruned fraction, in [0, 1], for every kind but gaussian_noise (to failure, dense where the curves bend: late)
noise_levels = [0.0, 0.02, 0.04, 0.08, 0.16]  # std of the added noise, >= 0, for gaussian_noise (to where the default models' bpb stops rising)
repeats = 3                # draws per level of a random kind, paired across models (deterministic kinds: 1)
nm_group = 4               # nm_pruning: weights per group along a matrix's inputs (level 0.5 = 2:4)
calibration_file = 'results/train_bilingual_gpt2/train_en.txt'  # wanda_pruning: text whose activations weigh the weights (training text, never the evaluation text); a file or a HF dataset name:config:split
calibration_windows = 128  # wanda_pruning: windows of the calibration text (each of the model's window length)
seed = 0                   # repeat r draws with seed + r
# perplexity
max_length = 0             # tokens per window (0 = each model's context length)
stride = 0                 # tokens between window starts (0 = max_length: windows overlap by one token)
batch_size = 8             # windows per forward pass
precision = 'auto'         # auto (bf16 autocast on a GPU, fp32 on a CPU) | fp32 | bf16
device = 'auto'            # auto | cpu | cuda
# statistics and output
compare = ['bilingual:monolingual', 'bilingual:control']  # a:b pairs for crossovers and paired differences (a - b); pairs with a missing label are skipped
bootstrap = 2000           # bootstrap resamples (training seeds, then repeats) for the confidence intervals
failure_fraction = 0.5     # half-failure level: the damage at which bpb has gone this far from intact to the floor
out_dir = 'results/test_gpt2'  # perplexity.csv, summary.json, config.json
visuals_dir = 'visuals'    # where the figures go
# -----------------------------------------------------------------------------
config = configure(globals())

# Validate everything before any work.
check(kinds, "kinds: name at least one kind")
check(0 < failure_fraction < 1, f"failure_fraction: {failure_fraction} must lie in (0, 1)")
check_choices('kinds', kinds, KINDS)
check_choices('epoch_kinds', epoch_kinds, KINDS)
scopes = scope if isinstance(scope, (list, tuple)) else [scope]
check(scopes, "scope: name at least one scope")
check_choices('scope', scopes, SCOPES)
check_choices('precision', precision, PRECISIONS)
check_range('levels', levels, *AMOUNT_RANGES['random_deletion'])
check_range('noise_levels', noise_levels, *AMOUNT_RANGES['gaussian_noise'])
grids = {'levels': levels, 'noise_levels': noise_levels}
check_grids(set(kinds) | set(epoch_kinds), grids)
check(all(isinstance(layer, int) for layer in layers), f"layers: {layers} must be block indices (integers)")
check_range('layers', layers, 0)
for name in ('repeats', 'batch_size', 'bootstrap', 'nm_group', 'calibration_windows'):
    check_range(name, config[name], 1)
for name in ('max_length', 'stride', 'eval_chars'):
    check_range(name, config[name], 0)
check(max_length == 0 or max_length >= 2, f"max_length: {max_length} leaves nothing to predict; use at least 2")
check(stride <= max_length or max_length == 0, f"stride: {stride} is longer than max_length {max_length}")
model_paths = parse_models(models)
labels = [label for label, _ in model_paths]
tokenizer_dirs = dict(parse_models(tokenizers, 'tokenizers')) if tokenizers.strip() else {}
for label in tokenizer_dirs:
    check(label in labels, f"tokenizers: {label!r} is not a label of models ({', '.join(labels)})")
check_range('n_head', n_head, 0)
pairs = parse_pairs(compare, labels)


@functools.cache
def load_text(spec, setting):
    """A text: a file as the training script writes it, or online a HF dataset name:config:split (column text)."""
    if is_text_file(spec):
        try:
            documents, _ = read_documents(spec, setting)
        except ValueError as error:
            fail(str(error))
        return '\n'.join(documents) + '\n'
    name, _, rest = spec.partition(':')
    subset, _, split = rest.partition(':')
    try:
        import datasets
        rows = datasets.load_dataset(name, subset or None, split=split or 'test')
    except Exception as error:
        fail(f"{setting}: {spec!r} is not a file and could not be loaded as a Hugging Face dataset name:config:split "
             f"({type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}); where there is a network, "
             f"load it once (datasets.load_dataset) to fill the local cache, or save its text as a file and pass "
             f"--{setting}=FILE")
    return '\n\n'.join(rows['text'])  # as the HF perplexity guide joins wikitext


def calibration_windows_of(tokenizer, window):
    """Wanda's calibration: the first `calibration_windows` windows of `window` tokens of calibration_file."""
    # enough characters for the windows
    ids = encode(tokenizer, load_text(calibration_file, 'calibration_file')[:calibration_windows * window * 16])
    count = min(calibration_windows, len(ids) // window)
    check(count >= 1, f"calibration_file: {calibration_file} holds fewer than {window} tokens")
    return ids[:count * window].view(count, window)


def options_of(unit):
    """perturb options of each kind for one model: the N:M group, Wanda's calibration windows."""
    return lambda kind: ({'group': nm_group} if kind == 'nm_pruning' else
                         {'calibration': calibration.get(unit, torch.zeros(1, 1, dtype=torch.long))}
                         if kind == 'wanda_pruning' else {})


check('wanda_pruning' not in kinds + epoch_kinds or not is_text_file(calibration_file) or os.path.isfile(calibration_file),
      f"calibration_file: {calibration_file} does not exist (wanda_pruning weighs the weights by activations on it)")
text = load_text(eval_file, 'eval_file')
if eval_chars and len(text) > eval_chars:
    cut = text.rfind('\n', 0, eval_chars)
    text = text[:cut + 1 if cut > 0 else eval_chars]
check(text.strip(), f"eval_file: {eval_file} has no text")

# Every model to evaluate: a family folder of seed_<s>/ models gives one unit per training seed (train_seed ''
# for a single model). Tokenizers, configs and checkpoints of each, with one-line errors for missing dirs or files,
# an unreachable hub, a state dict that is not GPT-2's, a tokenizer folder without its files or with more tokens
# than embedding rows.
units = expand_families(model_paths)
checkpoints = {}  # (label, train_seed) -> [(checkpoint name, path)]
token_ids, contexts, calibration = {}, {}, {}
for label, train_seed, path in units:
    unit, name = (label, train_seed), label + (f' seed {train_seed}' if train_seed != '' else '')
    tokenizer = load_tokenizer(path, 'models', tokenizer_dirs.get(label, ''))
    model_config = load_config(path, 'models', n_head)
    check_vocabulary(tokenizer, model_config, name)
    # the window: the positions the model takes; ALiBi families (BLOOM) set no limit and need max_length
    contexts[unit] = (getattr(model_config, 'n_positions', None) or getattr(model_config, 'max_position_embeddings', None)
                      or max_length)
    check(contexts[unit], f"max_length: {name} ({model_config.model_type}) sets no limit on its positions; set max_length")
    n_layers = model_config.num_hidden_layers
    check(max_length <= contexts[unit], f"max_length: {max_length} is longer than the {contexts[unit]} positions of {name}")
    check(stride <= (max_length or contexts[unit]), f"stride: {stride} is longer than {name}'s window of {max_length or contexts[unit]} tokens")
    check(not layers or max(layers) < n_layers,
          f"layers: {max(layers) if layers else ''} is outside {name}'s {n_layers} blocks (0..{n_layers - 1})")
    checkpoints[unit] = [('final', path)]
    if epochs and os.path.isdir(path):
        found = [d for d in glob.glob(os.path.join(path, 'epoch_*')) if re.fullmatch(r'epoch_\d+', os.path.basename(d))]
        checkpoints[unit] += sorted(((os.path.basename(d), d) for d in found), key=lambda c: int(c[0][6:]))
    token_ids[unit] = encode(tokenizer, text)
    check(len(token_ids[unit]) >= 2, f"eval_file: {eval_file} gives {name} fewer than 2 tokens")
    window = max_length or contexts[unit]
    if 'wanda_pruning' in kinds + epoch_kinds:
        calibration[unit] = calibration_windows_of(tokenizer, window)
    # Every kind on every scope, checked on the model's skeleton (meta device: no weights), before anything is written.
    with torch.device('meta'):
        skeleton = AutoModelForCausalLM.from_config(model_config)
    for kind in set(kinds) | set(epoch_kinds):
        try:
            for scope_name in scopes_of(kind, scopes):
                check_kind(skeleton, kind, max(grid_of(kind, grids)), scope_name, layers or None, **options_of(unit)(kind))
        except ValueError as error:
            fail(f"kinds: {name}: {error}")

# -----------------------------------------------------------------------------
rt = setup(device)
seed_everything(seed)
if rt.is_master:
    claim(out_dir)
layers_text = ','.join(map(str, sorted(layers))) if layers else 'all'
COLUMNS = ['model', 'train_seed', 'checkpoint', 'kind', 'scope', 'layers', 'level', 'repeat', 'nll', 'tokens', 'bytes',
           'ppl', 'bpb', 'sparsity', 'seconds']
KEY = ('model', 'train_seed', 'checkpoint', 'kind', 'scope', 'layers', 'level', 'repeat')
log, measured = open_log(out_dir, 'perplexity.csv', COLUMNS, KEY, rt)
if rt.is_master:
    save_config(config, os.path.join(out_dir, 'config.json'))
grid = {'final': trial_grid(kinds, scopes, [layers_text], grids, repeats, floors=True),
        'epoch': trial_grid(epoch_kinds, scopes, [layers_text], grids, repeats)}
work = [(label, train_seed, name, path, trial) for label, train_seed, _ in units
        for name, path in checkpoints[label, train_seed]
        for trial in pending(grid['final' if name == 'final' else 'epoch'], measured,
                             lambda t: dict(model=label, train_seed=train_seed, checkpoint=name, **t._asdict()))]
total, work = len(work), mine(work, rt)
print(f"rank {rt.rank}: {len(work)} of {total} trials to run on {rt.device}; text: {len(text):,} characters from {eval_file}; "
      f"layers: {layers_text}")
n_bytes = len(text.encode('utf-8'))
progress = tqdm(total=len(work), desc='trials', disable=not rt.is_master)
for (label, train_seed, name, path), group in itertools.groupby(work, key=lambda item: item[:4]):
    model = load_model(AutoModelForCausalLM, path, 'models', n_head).to(rt.device).eval()
    window = max_length or contexts[label, train_seed]
    # With `layers`, the clean hidden states entering the first perturbed block are computed once and
    # every trial runs only the blocks from there on (perturbations never touch earlier blocks).
    scorer = SlidingWindowNLL(model, token_ids[label, train_seed], window, stride or window,
                              batch_size, first_block=min(layers) if layers else 0, precision=precision)

    def record(trial, result, sparsity, seconds):
        nll, tokens = result
        scored = Perplexity(nll, tokens, n_bytes)
        log.write(dict(model=label, train_seed=train_seed, checkpoint=name, **trial._asdict(), nll=nll, tokens=tokens,
                       bytes=n_bytes, ppl=scored.ppl, bpb=scored.bpb, sparsity=sparsity, seconds=round(seconds, 4)))
        progress.update()

    run_trials(model, [trial for *_, trial in group], scorer, record, seed, layers_of=lambda trial: layers or None,
               options=options_of((label, train_seed)), disable=True)
progress.close()

if rt.distributed:
    torch.distributed.barrier()
    if rt.is_master:
        merge_parts(out_dir, 'perplexity.csv', COLUMNS, KEY)
    torch.distributed.barrier()
teardown(rt)
if not rt.is_master:
    raise SystemExit(0)

# -----------------------------------------------------------------------------
# Statistics: crossover of the bpb curves and paired differences in relative degradation, with intervals that
# count the training seeds (a family folder's seed_<s>/ models) as well as the damage draws.
frame = ResultsLog(os.path.join(out_dir, 'perplexity.csv'), COLUMNS, KEY).read()
frame = frame[(frame['layers'].astype(str) == layers_text) & frame['model'].isin(labels)]
rng = np.random.default_rng(seed)


final = frame[frame['checkpoint'] == 'final']
# The floor of each model, training seed and scope: bpb with every weight in scope zeroed.
floor_rows = final[(final['kind'] == FLOOR_KIND) & (final['level'] == 1.0)]
floors = {(model, scope_name): dict(zip(rows['train_seed'], rows['bpb']))
          for (model, scope_name), rows in floor_rows.groupby(['model', 'scope'])}


def compare_pair(a, b, kind, scope_name):
    """Crossover, difference in relative degradation bpb(p)/bpb(0) and half-failure levels of model a minus model b
    (final checkpoints)."""
    rows = final[(final['kind'] == kind) & (final['scope'] == scope_name)]
    return compare_rows(rows[rows['model'] == a], rows[rows['model'] == b], 'bpb', a, b, bootstrap, rng,
                        higher_is_worse=True, floors=(floors.get((a, scope_name), {}), floors.get((b, scope_name), {})),
                        fraction=failure_fraction)


summary = {'metric': 'bits per byte (mean_a, mean_b); relative change = bpb(level) / bpb(0); differences are a - b '
                     '(negative: a degrades less); 95% bootstrap intervals over each model\'s training seeds and the '
                     'paired repeats; detectable_difference: the smallest true difference found with 80% power; '
                     f'half_failure_level: the level where bpb has gone {failure_fraction} of the way from intact to '
                     'the floor (every weight in scope zeroed), mean over training seeds (None: not reached within '
                     'the grid; a - b positive: a fails later)',
           'layers': layers_text, 'half_failure_level': {}, 'comparisons': {}}
for label in labels:
    for kind in kinds:
        for scope_name in scopes:
            rows = final[(final['model'] == label) & (final['kind'] == kind) & (final['scope'] == scope_name)]
            entry = half_failure_of(rows, 'bpb', floors.get((label, scope_name), {}), failure_fraction)
            if entry is not None:
                summary['half_failure_level'][f'{label} | {kind} | {scope_name}'] = entry
crossovers = {}  # (kind, scope) -> [(a, b, level)]
for a, b in pairs:
    for kind in kinds:
        for scope_name in scopes:
            result = compare_pair(a, b, kind, scope_name)
            if result is not None:
                summary['comparisons'][f'{a} - {b} | {kind} | {scope_name}'] = result
                if result['crossover'] is not None:
                    crossovers.setdefault((kind, scope_name), []).append((a, b, result['crossover']))
with open(os.path.join(out_dir, 'summary.json'), 'w') as f:
    json.dump(summary, f, indent=2)
print(f"wrote {os.path.join(out_dir, 'summary.json')}")
show = lambda ci: f"[{ci[0]:+.4f}, {ci[1]:+.4f}]" if ci else "(no interval: nothing varies between resamples)"
for name, entry in summary['half_failure_level'].items():
    print(f"  half-failure {name}: " + (f"{entry['level']:.3f}" if entry['reached'] else
                                        f"not reached within the grid (top level {entry['grid_top']})"))
for name, result in summary['comparisons'].items():
    crossed = (f"crossover at {result['crossover']:.3f} (95% CI {result['crossover_ci95']})"
               if result['crossover'] is not None else "no crossover")
    detectable = f"{result['detectable_difference']:.4f}" if result['detectable_difference'] is not None else 'n/a'
    half = result.get('half_failure_level')
    failing = ('' if half is None else f"; half-failure a - b " +
               (f"{half['difference']:+.3f}, 95% CI {show(half['difference_ci95'])}" if half['difference'] is not None
                else 'not reached within the grid by ' + ' and '.join(m for m, level in (('a', half['a']), ('b', half['b']))
                                                                      if level is None)))
    print(f"  {name}: {result['verdict']}; difference in relative degradation {result['mean_over_damaged_levels']:+.4f}, "
          f"95% CI {show(result['mean_over_damaged_levels_ci95'])}, detectable {detectable} "
          f"({result['training_seeds'][0]} and {result['training_seeds'][1]} training seeds x {result['repeats']} draws); "
          f"{crossed}{failing}")

# -----------------------------------------------------------------------------
# Figures: rows = scopes; columns = perplexity, bits per byte, relative degradation.
FIGURES = {'random_deletion': ('gpt2_random_delete.png', 'Random weight deletion probability'),
           'magnitude_pruning': ('gpt2_magnitude_deletion.png', 'Magnitude-based weight pruning fraction'),
           'global_magnitude_pruning': ('gpt2_global_magnitude_deletion.png', 'Global magnitude pruning fraction'),
           'gaussian_noise': ('gpt2_weight_noise.png', 'Weight noise std'),
           'neuron_deletion': ('gpt2_neuron_delete.png', 'Neuron deletion probability'),
           'head_deletion': ('gpt2_head_delete.png', 'Attention head deletion probability'),
           'nm_pruning': ('gpt2_nm_pruning.png', f'N:M pruning fraction (groups of {nm_group})'),
           'wanda_pruning': ('gpt2_wanda_pruning.png', 'Wanda pruning fraction (per output row)')}


def clipped_lines(ax, rows, y, hue, label=str):
    """Error-bar lines of `y`; means that are inf or nan are drawn clipped to the top with an x marker."""
    rows = rows.copy()
    finite = np.isfinite(rows[y])
    top = rows.loc[finite, y].max() * 1.5 if finite.any() else 1.0
    bad = rows[~finite]
    rows.loc[~finite, y] = top
    plots.errorbar_lines(ax, rows, 'level', y, hue, label=label, std_label=False)
    if len(bad):
        ax.scatter(bad['level'], [top] * len(bad), marker='x', s=90, color='black', zorder=5,
                   label='inf/nan (clipped)')


def spread_title(rows, kind):
    """What the error bars span: training seeds (a family folder's models) and damage draws."""
    trainings = int(rows.groupby('model')['train_seed'].nunique().max())
    draws = 1 if KIND_TABLE[kind].deterministic else repeats
    parts = [f"{trainings} training seeds"] * (trainings > 1) + [f"{draws} draws"] * (draws > 1)
    return f"mean ± std over {' x '.join(parts)}" if parts else None


def swept_scopes(rows):
    """The scopes that the rows of one kind hold, in the order of `scope` (a kind on heads runs on one of them)."""
    return [s for s in scopes if s in set(rows['scope'])]


def draw_models(kind, rows, path, xlabel):
    rows = rows.copy()
    intact = rows[rows['level'] == 0].groupby(['model', 'train_seed', 'scope'])['bpb'].first()
    rows['relative'] = [bpb / intact.get((m, t, s), math.nan)
                        for m, t, s, bpb in zip(rows['model'], rows['train_seed'], rows['scope'], rows['bpb'])]
    shown = swept_scopes(rows)
    fig, axes = plots.figure(ncols=3, nrows=len(shown), width=5.2, height=4.2)
    for r, scope_name in enumerate(shown):
        part = rows[rows['scope'] == scope_name]
        for c, (column, ylabel) in enumerate((('ppl', 'Perplexity (own tokenizer)'), ('bpb', 'Bits per byte'),
                                              ('relative', 'bpb / bpb(intact)'))):
            ax = axes[r * 3 + c]
            if len(part):
                clipped_lines(ax, part, column, 'model', label=lambda m: m)
            ax.set_xlabel(xlabel)
            ax.set_ylabel(ylabel)
            ax.set_title(f"scope: {scope_name}" + (f", blocks {layers_text}" if layers else ''), fontsize=11)
            if column == 'ppl':
                ax.set_yscale('log')
            for a, b, level in crossovers.get((kind, scope_name), []) if column == 'bpb' else []:
                ax.axvline(level, color='grey', linestyle=':')
                ax.annotate(f"{a}/{b}\ncross-over {level:.3f}", (level, ax.get_ylim()[0]), xytext=(4, 10),
                            textcoords='offset points', fontsize=9)
            ax.legend(title=spread_title(rows, kind), fontsize=9)
    plots.save(fig, path)


def draw_epochs(kind, rows, path, xlabel):
    """One panel per model and scope; one perplexity curve per training epoch (the paper's Figure)."""
    shown = swept_scopes(rows)
    fig, axes = plots.figure(ncols=len(labels), nrows=len(shown), width=5.2, height=4.2)
    order = lambda name: int(name[6:]) if name.startswith('epoch_') else 10 ** 9
    for r, scope_name in enumerate(shown):
        for c, label in enumerate(labels):
            ax = axes[r * len(labels) + c]
            part = rows[(rows['scope'] == scope_name) & (rows['model'] == label)].copy()
            part['rank'] = part['checkpoint'].map(order)
            if len(part):
                clipped_lines(ax, part, 'ppl', 'rank',
                              label=lambda k: 'final' if k == 10 ** 9 else f"Epoch {k}")
                ax.legend(fontsize=9)
            ax.set_yscale('log')
            ax.set_xlabel(xlabel)
            ax.set_ylabel('Perplexity')
            ax.set_title(f"{label}, scope: {scope_name}", fontsize=11)
    plots.save(fig, path)


for kind in sorted(set(kinds) | set(epoch_kinds)):
    filename, xlabel = FIGURES[kind]
    rows = frame[frame['kind'] == kind]
    if rows.empty:
        continue
    final = rows[rows['checkpoint'] == 'final']
    by_epoch = rows['checkpoint'].nunique() > 1
    if kind in kinds and len(final):
        draw_models(kind, final, os.path.join(visuals_dir, filename.replace('.png', '_models.png') if by_epoch else filename), xlabel)
    if by_epoch:
        draw_epochs(kind, rows, os.path.join(visuals_dir, filename), xlabel)
record_run(out_dir)
