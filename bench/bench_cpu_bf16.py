"""Benchmark: one GPT-2-small perturbation trial on the CPU in fp32 and under bf16 autocast (test_gpt2.py's
`precision`), and how far the bf16 NLL is from the fp32 one.

    python bench/bench_cpu_bf16.py                 # random-init GPT-2 small, 4,096 tokens of the WEB text, 1024/512

Prints seconds per trial (median of `trials`), scored tokens/s and the NLL's relative difference.
"""

import os
import statistics
import sys
import time

import torch
from transformers import GPT2Config, GPT2LMHeadModel

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from robustness import corpora
from robustness.config import configure, settings_checked
from robustness.perplexity import SlidingWindowNLL
from robustness.perturb import perturbed
from robustness.provenance import machine

# -----------------------------------------------------------------------------
eval_tokens = 4096         # tokens scored per trial
trials = 3                 # timed trials per precision (random deletion of the attention weights, 0.2)
batch_size = 4             # windows per forward pass
# -----------------------------------------------------------------------------
config = configure(globals())
settings_checked()
torch.manual_seed(0)
net = GPT2LMHeadModel(GPT2Config(attn_implementation='sdpa')).eval()  # GPT-2 small, random init
text = '\n'.join(corpora.chapters(corpora.english_verses())).encode('utf-8')
ids = torch.tensor(list(text[:eval_tokens]), dtype=torch.long) * 97 % net.config.vocab_size
results = {}
for precision in ('fp32', 'bf16'):
    scorer = SlidingWindowNLL(net, ids, 1024, 512, batch_size, precision=precision)
    scorer()  # warm-up
    seconds = []
    for seed in range(trials):
        started = time.perf_counter()
        with perturbed(net, 'random_deletion', 0.2, scope='attn', seed=seed):
            nll, tokens = scorer()
        seconds.append(time.perf_counter() - started)
    results[precision] = (statistics.median(seconds), nll, tokens)
print(f"\nGPT-2 small (random init), {machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}; "
      f"{results['fp32'][2]:,} scored tokens per trial, windows 1024/512\n")
print("| precision | seconds per trial | scored tokens/s | NLL relative to fp32 |")
print("| --- | ---: | ---: | ---: |")
for precision, (seconds, nll, tokens) in results.items():
    print(f"| {precision} | {seconds:.2f} | {tokens / seconds:,.0f} | {(nll - results['fp32'][1]) / results['fp32'][1]:+.2e} |")
