"""Perturb the weights of monolingual and bilingual GPT-2 models and measure how English perplexity rises.

The paper's main experiment (Multitasking Models are Robust to Structural Failure, NeurIPS 2022): delete
or prune a growing share of a model's weights (or add noise to them) and evaluate the damaged model on
held-out English text. The paper found that the bilingual model, worse when intact, degrades more
slowly and is better beyond a deletion probability of about 0.13.

For every model (and, with `checkpoints`, every training checkpoint) x kind x scope x level x repeat, the
model is perturbed in place (robustness.perturb, restored bit for bit afterwards) and the strided
sliding-window NLL of the whole evaluation text is measured (robustness.perplexity). Per-token
perplexity depends on the tokenizer, so models with different tokenizers are compared in bits per
byte (bpb), and every comparison in summary.json uses bpb. Repeat r uses seed
`seed + r` for every model: models of the same shape get the same masks (paired comparisons).
Deterministic kinds (the pruning kinds of robustness.perturb's table), the intact model and deletion of every
weight run once per level; the floor (every weight in scope zeroed) is measured once per model and scope.

    python test_gpt2.py                            # offline default: models of train_bilingual_gpt2.py
    python test_gpt2.py --kinds=random_deletion --scope=attn --levels=0,0.1,0.2,0.3,0.4 --repeats=10
    python test_gpt2.py --models=gpt2=gpt2,mine=path/to/model --eval_file=Salesforce/wikitext:wikitext-2-raw-v1:test \\
        --max_length=1024 --stride=512             # the paper's scale (online, a GPU)
    torchrun --standalone --nproc_per_node=8 test_gpt2.py ...   # trials split across 8 GPUs, one CSV

Writes out_dir/perplexity.csv (one row per trial, appended as measured; a rerun skips rows already
there), out_dir/summary.json (per comparison a verdict on the retained area, Holm-corrected over the table, and
the half-failure levels and crossover as description: docs/statistics.md), out_dir/config.json, out_dir/checkpoints.csv
(the training tokens behind each checkpoint of train_bilingual_gpt2.py's models), and visuals_dir/gpt2_random_delete.png,
gpt2_magnitude_deletion.png (one curve per training checkpoint when `checkpoints` finds them), gpt2_weight_noise.png,
gpt2_scope_cost.png (bpb with each scope zeroed / intact, against training tokens).
"""

import functools
import itertools
import os

import pandas as pd
import torch
from tqdm import tqdm
from transformers import AutoModelForCausalLM

from robustness.analysis.test_gpt2 import CHECKPOINT_COLUMNS, analyze
from robustness.checkpoints import (check_vocabulary, expand_families, load_config, load_model, load_tokenizer,
                                    numbered_dirs, training_tokens)
from robustness.config import check, check_choices, check_range, configure, save_config
from robustness.corpora import hub_texts, is_text_file, read_documents
from robustness.lock import claim
from robustness.perplexity import Perplexity, SlidingWindowNLL, encode
from robustness.perturb import AMOUNT_RANGES, KINDS, SCOPES, kind_options
from robustness.provenance import record_run
from robustness.runtime import PRECISIONS, parse_models, parse_pairs, seed_everything, setup, teardown
from robustness.stats import check_margin
from robustness.sweep import (check_grids, check_kinds, merge_parts, mine, open_log, pending, run_trials,
                              token_windows, trial_grid)

# -----------------------------------------------------------------------------
# models and text
models = ('monolingual=results/train_bilingual_gpt2/monolingual,bilingual=results/train_bilingual_gpt2/bilingual,'
          'control=results/train_bilingual_gpt2/control')  # comma-separated label=path: HF model dir or hub name, or a GPT-2 state-dict file (.pth, .pt, .bin, .safetensors)
tokenizers = ''            # label=folder,...: tokenizer of a state-dict entry (vocab.json + merges.txt, or tokenizer.json); default: the file's folder
n_head = 0                 # attention heads of state-dict entries (0 = width / 64, GPT-2's convention)
eval_file = 'results/train_bilingual_gpt2/eval_en.txt'  # text file (one document per line), or online a HF dataset name:config:split
eval_chars = 16000         # evaluate the first this many characters of the text, cut at a line end (0 = all of it)
checkpoints = True         # also evaluate every <model dir>/step_<n>/ training checkpoint, with checkpoint_kinds
checkpoint_kinds = ['magnitude_pruning']  # kinds swept on the training checkpoints
# perturbations
kinds = ['random_deletion', 'magnitude_pruning', 'gaussian_noise', 'head_deletion']  # random_deletion | magnitude_pruning | global_magnitude_pruning | gaussian_noise | neuron_deletion | head_deletion | nm_pruning | wanda_pruning
scope = ['attn', 'blocks'] # attn (the paper's probe) | mlp | blocks | all (with embeddings)
floor_scopes = []          # scopes whose floor alone (every weight zeroed) is measured too, for the report's scope cost (swept scopes always are)
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
equivalence_margin = 0.05  # verdict "equivalent" when the corrected interval of the difference in retained area lies within +- this
bootstrap = 2000           # bootstrap resamples (training seeds, then repeats) for the secondary statistics' intervals
failure_fraction = 0.5     # half-failure level (description): the damage at which bpb has gone this far from intact to the floor
out_dir = 'results/test_gpt2'  # perplexity.csv, summary.json, config.json
visuals_dir = 'visuals'    # where the figures go
# -----------------------------------------------------------------------------
config = configure(globals(), renamed={'epochs': 'checkpoints', 'epoch_kinds': 'checkpoint_kinds'})

# Validate everything before any work.
check(kinds, "kinds: name at least one kind")
check(0 < failure_fraction < 1, f"failure_fraction: {failure_fraction} must lie in (0, 1)")
check_margin(equivalence_margin)
check_choices('kinds', kinds, KINDS)
check_choices('checkpoint_kinds', checkpoint_kinds, KINDS)
check(scope, "scope: name at least one scope")
check_choices('scope', scope, SCOPES)
check_choices('floor_scopes', floor_scopes, SCOPES)
check_choices('precision', precision, PRECISIONS)
check_range('levels', levels, *AMOUNT_RANGES['random_deletion'])
check_range('noise_levels', noise_levels, *AMOUNT_RANGES['gaussian_noise'])
grids = {'levels': levels, 'noise_levels': noise_levels}
check_grids(set(kinds) | set(checkpoint_kinds), grids)
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
parse_pairs(compare, labels)  # the pairs' form, checked before any work


@functools.cache
def load_text(spec, setting):
    """A text: a file as the training script writes it, or online a HF dataset name:config:split (column text)."""
    if is_text_file(spec):
        documents, _ = read_documents(spec, setting)
        return '\n'.join(documents) + '\n'
    return '\n\n'.join(hub_texts(spec, setting, 'test'))  # as the HF perplexity guide joins wikitext


check('wanda_pruning' not in kinds + checkpoint_kinds or not is_text_file(calibration_file) or os.path.isfile(calibration_file),
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
checkpoint_paths = {}  # (label, train_seed) -> [(checkpoint name, path)]
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
    final_step = (training_tokens(path) or [None])[0]  # the checkpoint at the last step is the final model again
    checkpoint_paths[unit] = [('final', path)] + ([(f'step_{step}', folder) for step, folder in numbered_dirs(path, 'step_')
                                                   if step != final_step] if checkpoints else [])
    token_ids[unit] = encode(tokenizer, text)
    check(len(token_ids[unit]) >= 2, f"eval_file: {eval_file} gives {name} fewer than 2 tokens")
    window = max_length or contexts[unit]
    if 'wanda_pruning' in kinds + checkpoint_kinds:  # enough characters of the calibration text for the windows
        calibration_ids = encode(tokenizer, load_text(calibration_file, 'calibration_file')[:calibration_windows * window * 16])
        calibration[unit] = token_windows(calibration_ids, calibration_windows, window, 'calibration_file')
    check_kinds(model_config, AutoModelForCausalLM, sorted(set(kinds) | set(checkpoint_kinds)), scope, [layers or None],
                grids, nm_group, name)

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
    # the training tokens behind every checkpoint (models of train_bilingual_gpt2.py), for the scope cost's x axis
    pd.DataFrame([(label, train_seed, name, *tokens) for (label, train_seed), found in checkpoint_paths.items()
                  for name, path in found if (tokens := training_tokens(path))],
                 columns=CHECKPOINT_COLUMNS).to_csv(os.path.join(out_dir, 'checkpoints.csv'), index=False)
# every checkpoint gets the floors too: the scope cost against training tokens
floored = list(dict.fromkeys(scope + floor_scopes))
grid = {'final': trial_grid(kinds, scope, [layers_text], grids, repeats, floors=floored),
        'checkpoint': trial_grid(checkpoint_kinds, scope, [layers_text], grids, repeats, floors=floored)}
work = [(label, train_seed, name, path, trial) for label, train_seed, _ in units
        for name, path in checkpoint_paths[label, train_seed]
        for trial in pending(grid['final' if name == 'final' else 'checkpoint'], measured,
                             lambda t: dict(model=label, train_seed=train_seed, checkpoint=name, **t._asdict()))]
total, work = len(work), mine(work, rt)
print(f"rank {rt.rank}: {len(work)} of {total} trials to run on {rt.device}; text: {len(text):,} characters from {eval_file}; "
      f"layers: {layers_text}")
n_bytes = len(text.encode('utf-8'))
progress = tqdm(total=len(work), desc='trials', disable=not rt.is_master)
for (label, train_seed, name, path), group in itertools.groupby(work, key=lambda item: item[:4]):
    model = load_model(AutoModelForCausalLM, path, 'models', n_head).to(rt.device).eval()
    window = max_length or contexts[label, train_seed]
    # With `layers`, the intact hidden states entering the first perturbed block are computed once and
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
               options={kind: kind_options(kind, nm_group, calibration.get((label, train_seed)))
                        for kind in set(kinds) | set(checkpoint_kinds)}, disable=True)
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
# Summary and figures, from the CSV alone (robustness/analysis/test_gpt2.py): `python -m robustness.analyze
# results/test_gpt2` redoes them with other analysis settings, without measuring anything again.
analyze(out_dir, config)
record_run(out_dir)
