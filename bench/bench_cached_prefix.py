"""Benchmark: a sweep of the last block through the cached prefix (test_gpt2.py --layers=N-1) against the full
forward pass, on a random 4-block model of every decoder family (robustness.perplexity.SlidingWindowNLL).

The target: a last-block trial costs at most a quarter of a full one. What remains per trial is the embeddings, the
last block and the vocabulary projection of the scored positions.

    python bench/bench_cached_prefix.py                      # every decoder family, 256 wide, 16k tokens
    python bench/bench_cached_prefix.py --families=llama --width=768 --tokens=65536

Prints a markdown table: seconds per trial of each path, their ratio, and the largest relative NLL difference.
"""

import os
import platform
import sys
import time

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [ROOT, os.path.join(ROOT, 'tests')]
from families import DECODERS, tiny_model  # noqa: E402 (the tests' model of every family, at a bench size)
from robustness.config import check_choices, configure, settings_checked  # noqa: E402
from robustness.perplexity import SlidingWindowNLL  # noqa: E402

# -----------------------------------------------------------------------------
families = list(DECODERS)  # decoder families to time
width = 256                # hidden size (4 heads)
layers = 4                 # blocks; the sweep perturbs the last
vocab_size = 2048          # the offline default's vocabulary
tokens = 16384             # tokens of the scored sequence
max_length = 256           # window
stride = 128               # stride between windows
batch_size = 8             # windows per forward pass
calls = 3                  # timed calls of each path (after one warm-up)
# -----------------------------------------------------------------------------
configure(globals())
settings_checked()
check_choices('families', families, DECODERS)
torch.manual_seed(0)
ids = torch.randint(1, vocab_size, (tokens,))


def seconds_per_call(scorer):
    scorer()  # warm-up
    start = time.perf_counter()
    results = [scorer() for _ in range(calls)]
    return (time.perf_counter() - start) / calls, results[-1][0]


print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
      f"{torch.get_num_threads()} threads; {layers} blocks x {width}, vocabulary {vocab_size}, {tokens:,} tokens, "
      f"windows {max_length}/{stride}, batch {batch_size}\n")
print('| family | full forward (s/trial) | last block, cached prefix (s/trial) | ratio | relative NLL difference |')
print('|---|---|---|---|---|')
for family in families:
    model = tiny_model(family, vocab_size=vocab_size, width=width, layers=layers)
    full, full_nll = seconds_per_call(SlidingWindowNLL(model, ids, max_length, stride, batch_size))
    cached, cached_nll = seconds_per_call(SlidingWindowNLL(model, ids, max_length, stride, batch_size,
                                                           first_block=layers - 1))
    print(f"| {family} | {full:.3f} | {cached:.3f} | {cached / full:.2f} | {abs(cached_nll - full_nll) / full_nll:.1e} |")
