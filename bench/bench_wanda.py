"""Benchmark: what a level of Wanda pruning costs, block by block as published, against one calibration pass over the
intact model (the earlier one-pass variant's cost, which is a lower bound for any Wanda).

    python bench/bench_wanda.py                        # the offline default's shape: 4 blocks x 128, 128 windows x 128
    python bench/bench_wanda.py --n_layer=12 --n_embd=768 --windows=32 --device=cuda

Prints the seconds of one calibration pass over the whole model, of one level of `wanda_pruning` on the blocks
(damage and exact restore included), and their ratio (about (blocks + 1) / 2 calibration passes are expected).
"""

import os
import statistics
import sys
import time

import torch
from transformers import GPT2Config, GPT2LMHeadModel
from transformers.pytorch_utils import Conv1D

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from robustness.config import configure, settings_checked
from robustness.kinds import input_norms
from robustness.perturb import perturbed
from robustness.provenance import machine

# -----------------------------------------------------------------------------
n_layer = 4        # transformer blocks
n_embd = 128       # width
n_head = 4         # heads
vocab_size = 2048  # tokens
windows = 128      # calibration windows (test_gpt2.py's calibration_windows)
window = 128       # tokens per window
level = 0.5        # the pruned fraction
trials = 3         # timed repetitions (the median is printed)
device = 'cpu'
# -----------------------------------------------------------------------------
configure(globals())
settings_checked()
torch.manual_seed(0)
model = GPT2LMHeadModel(GPT2Config(vocab_size=vocab_size, n_positions=window, n_embd=n_embd, n_layer=n_layer,
                                   n_head=n_head, bos_token_id=0, eos_token_id=0)).to(device).eval()
calibration = torch.randint(0, vocab_size, (windows, window))
linears = [module for module in model.modules() if isinstance(module, (torch.nn.Linear, Conv1D))]


def timed(work):
    seconds = []
    for _ in range(trials):
        start = time.perf_counter()
        with torch.no_grad():
            work()
        if device == 'cuda':
            torch.cuda.synchronize()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds)


def one_level():
    with perturbed(model, 'wanda_pruning', level, scope='blocks', calibration=calibration):
        pass


one_pass = timed(lambda: input_norms(model, calibration, linears))
block_by_block = timed(one_level)
print(f"{machine()}, torch {torch.__version__}, threads {torch.get_num_threads()}; GPT-2 {n_layer} x {n_embd}, "
      f"{windows} x {window} calibration tokens, level {level}, median of {trials}")
print('| what | seconds |')
print('|---|---|')
print(f'| one calibration pass over the intact model (the one-pass variant) | {one_pass:.2f} |')
print(f'| one level of wanda_pruning on the blocks, block by block (published), damage and restore included | '
      f'{block_by_block:.2f} |')
print(f'| ratio | {block_by_block / one_pass:.1f} (expected about (blocks + 1) / 2 = {(n_layer + 1) / 2:.1f}) |')
