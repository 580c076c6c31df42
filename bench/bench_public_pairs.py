"""Benchmark: what the public-pair configs cost, from one measured trial on this machine.

For each config (configs/bgpt_goldfish.py, bgpt_sequential_steps.py, glue_encoder_pairs.py) it counts the trials of
its grid per model (robustness.sweep.trial_grid, as the scripts do), times one trial of a random-init model with the
architecture the model cards give (GPT-2 small with 512 positions and a 50,000-token vocabulary; BERT/RoBERTa/DeBERTa
base sized classifiers with their vocabularies), and multiplies. The one-GPU time is an estimate: the trial's forward
FLOPs (2 per parameter per token; fine-tuning: 3 passes per training example and epoch) at an assumed sustained 40%
of an H100's 989 bf16 TFLOP/s. For run_glue_test.py the numbers are one task's (MRPC, the largest of the three).

    python bench/bench_public_pairs.py                       # about two minutes on 2 cores
    python bench/bench_public_pairs.py --tokens_timed=4096

Prints one markdown table row per config.
"""

import os
import runpy
import sys
import time

import torch
from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSequenceClassification

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from robustness.config import configure, settings_checked  # noqa: E402
from robustness.perplexity import SlidingWindowNLL  # noqa: E402
from robustness.provenance import machine  # noqa: E402
from robustness.sweep import trial_grid  # noqa: E402

# -----------------------------------------------------------------------------
tokens_timed = 2048        # decoder trials: tokens scored in the timed call (the cost is linear in the windows)
chars_per_token = 4.0      # English text per token of a 50k vocabulary, to turn eval_chars into windows
gpu_flops = 0.4 * 989e12   # the assumed sustained bf16 rate of one H100 (estimate)
# -----------------------------------------------------------------------------
configure(globals())
settings_checked()
torch.manual_seed(0)
torch.set_grad_enabled(False)
ENCODERS = {  # model type, vocabulary (model cards); the body is the base size of each family
    'bert-base-cased': ('bert', 28996), 'bert-base-multilingual-cased': ('bert', 119547),
    'Geotrend/bert-base-en-cased': ('bert', 31000), 'roberta-base': ('roberta', 50265),
    'xlm-roberta-base': ('xlm-roberta', 250002), 'microsoft/deberta-v3-base': ('deberta-v2', 128100),
    'microsoft/mdeberta-v3-base': ('deberta-v2', 251000)}


def settings(path):
    return runpy.run_path(os.path.join(ROOT, path))


def trials_per_model(config, layer_sets=('all',)):
    scopes = config['scope'] if isinstance(config['scope'], list) else config['scope'].split(',')
    kinds = [kind for kind in config['kinds'] if kind != 'distraction']
    grids = {'levels': config['levels'], 'noise_levels': config['noise_levels']}
    return len(trial_grid(kinds, scopes, list(layer_sets), grids, config['repeats'], floors=scopes))


def timed(call):
    call()  # warm-up
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def decoder_row(path):
    config = settings(path)
    model = AutoModelForCausalLM.from_config(AutoConfig.for_model('gpt2', n_positions=512, vocab_size=50000)).eval()
    window, stride = config['max_length'], config['stride']
    ids = torch.randint(0, 50000, (tokens_timed,))
    seconds = timed(SlidingWindowNLL(model, ids, window, stride, config['batch_size']))
    windows_timed = 1 + (tokens_timed - window) / stride
    windows = 1 + (config['eval_chars'] / chars_per_token - window) / stride
    per_trial = seconds * windows / windows_timed
    flops = 2 * sum(p.numel() for p in model.parameters()) * windows * window
    models = len(config['models'].split(','))
    return path, models, trials_per_model(config), per_trial, flops, 0.0, 0.0


def encoder_row(path):
    config = settings(path)
    per_trial, flops = {}, {}
    examples, training = 408, 3668  # MRPC's validation and training splits (RTE: 277, 2490; WNLI: 71, 635)
    for name in config['models'].split(','):
        hub_id = name.split('=')[1]
        family, vocabulary = ENCODERS[hub_id]
        model = AutoModelForSequenceClassification.from_config(AutoConfig.for_model(family, vocab_size=vocabulary)).eval()
        batch = torch.randint(5, 1000, (32, config['max_length']))
        per_trial[hub_id] = timed(lambda: model(batch)) * examples / len(batch)
        body = sum(p.numel() for n, p in model.named_parameters() if 'embeddings' not in n)
        flops[hub_id] = 2 * body * examples * config['max_length']
    models = len(per_trial)
    # fine-tuning once per model: forward and backward, about 3 forward passes per training example and epoch
    tune = 3 * config['epochs'] * training / examples
    return path, models, trials_per_model(config, config['layer_sets']), sum(per_trial.values()) / models, \
        sum(flops.values()) / models, tune * sum(per_trial.values()) / models, tune * sum(flops.values()) / models


print(f"{machine()}, torch {torch.__version__}, {torch.get_num_threads()} threads\n")
print('| config | models | trials per model | CPU s per trial (measured) | CPU total, fine-tuning included | '
      'one GPU (estimate) |')
print('|---|---|---|---|---|---|')
for row in (decoder_row('configs/bgpt_goldfish.py'), decoder_row('configs/bgpt_sequential_steps.py'),
            encoder_row('configs/glue_encoder_pairs.py')):
    path, models, trials, seconds, flops, tune_seconds, tune_flops = row
    cpu = models * (trials * seconds + tune_seconds)
    gpu = models * (trials * flops + tune_flops) / gpu_flops
    print(f"| `{path}` | {models} | {trials} | {seconds:.1f} | {cpu / 3600:.1f} h | {gpu / 60:.0f} min |")
