"""Benchmark: the paper's perturbation sweep against test_gpt2.py's, on the same model and text, in one process.

The paper's procedure, per trial: deep-copy the model, perturb the copy (magnitude thresholds with
np.percentile on a CPU copy of each tensor), then the perplexity loop of the HF guide, one window
per forward pass, in fp32, with logits for every position. Ours: perturb in place and restore
(robustness.perturb), batched windows, logits only where a token is scored, bf16 autocast on CUDA
(robustness.perplexity). The limit: a plain batched forward pass over the same windows, no
perturbation. Also timed: a sweep restricted to the last block (`layers=[n_layer - 1]`), which
reuses the intact hidden states entering that block.

    python bench/bench_sweep.py                                  # GPT-2 small, random init, WEB text
    python bench/bench_sweep.py --model=results/train_bilingual_gpt2/monolingual --eval_tokens=0
    python bench/bench_sweep.py --eval_tokens=280000 --levels=0.05,0.1,0.15,0.2,0.25,0.3,0.35,0.4 --repeats=10   # GPU target

Prints the times, tokens per second and ratios as a markdown table.
"""

import os
import platform
import statistics
import sys
import time

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, GPT2Config, GPT2LMHeadModel

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from paper_procedure import paper_trial
from robustness import corpora
from robustness.config import check, check_choices, configure, settings_checked
from robustness.perplexity import SlidingWindowNLL, encode
from robustness.kinds import weight_kinds
from robustness.perturb import perturbed
from robustness.scopes import scoped_parameters
from robustness.hub import from_pretrained
from robustness.runtime import autocast, setup

# -----------------------------------------------------------------------------
model = ''                 # HF causal LM dir; '' = random-init GPT-2 with the sizes below (no hub needed)
n_layer = 12               # random init: GPT-2 small
n_embd = 768
n_head = 12
vocab_size = 50257
n_positions = 1024
eval_tokens = 16384        # evaluate this many tokens of the text (0 = all)
kinds = ['random_deletion', 'magnitude_pruning', 'gaussian_noise']  # the sweep's kinds
levels = [0.1, 0.2, 0.3, 0.4]  # the sweep's levels (noise std = level / 10)
repeats = 3                # seeds per (kind, level)
max_length = 1024          # tokens per window
stride = 512               # tokens between windows
batch_size = 8             # windows per forward pass (ours and the limit)
paper = True               # also time the paper's procedure (slow)
device = 'auto'            # auto | cpu | cuda
# -----------------------------------------------------------------------------
config = configure(globals())
settings_checked()
check_choices('kinds', kinds, weight_kinds())
rt = setup(device)
torch.manual_seed(0)

# Model and text. With no model dir, the tokenizer is a byte-level stand-in: GPT-2's own needs the hub.
if model:
    net = from_pretrained(AutoModelForCausalLM, model, 'model', attn_implementation='sdpa')
    ids = encode(from_pretrained(AutoTokenizer, model, 'model'), '\n'.join(corpora.chapters(corpora.english_verses())))
else:
    net = GPT2LMHeadModel(GPT2Config(n_layer=n_layer, n_embd=n_embd, n_head=n_head, vocab_size=vocab_size,
                                     n_positions=n_positions, attn_implementation='sdpa'))
    text = '\n'.join(corpora.chapters(corpora.english_verses())).encode('utf-8')
    ids = torch.tensor(list(text), dtype=torch.long) * 97 % vocab_size  # real text statistics, spread over the vocabulary
net = net.to(rt.device).eval()
ids = ids[:eval_tokens] if eval_tokens else ids
check(max_length <= net.config.n_positions, f"max_length: {max_length} is longer than the model's {net.config.n_positions} positions")
trials = [(kind, level if kind != 'gaussian_noise' else level / 10, seed)
          for kind in kinds for level in levels for seed in range(repeats)]


def sync():
    if rt.device.type == 'cuda':
        torch.cuda.synchronize()


def timed(function, count):
    sync()
    started = time.perf_counter()
    for _ in range(count):
        function()
    sync()
    return time.perf_counter() - started


# Ours: one scorer for the text, in-place perturbations.
ours = SlidingWindowNLL(net, ids, max_length, stride, batch_size)
tokens = ours.tokens
ours()  # warm-up
iterator = iter(trials)


def our_trial():
    kind, amount, seed = next(iterator)
    with perturbed(net, kind, amount, scope='attn', seed=seed):
        ours()


ours_seconds = timed(our_trial, len(trials))


# The limit: a plain batched forward over the same windows, full logits, no perturbation.
def plain_forward():
    with torch.inference_mode(), autocast(rt.device):
        for batch, _ in ours.batches:
            net(batch)


plain_forward()
forward_seconds = statistics.median(timed(plain_forward, 1) for _ in range(3))

# Last block only: the cached prefix.
last = net.config.num_hidden_layers - 1
restricted = SlidingWindowNLL(net, ids, max_length, stride, batch_size, first_block=last)
iterator = iter(trials)


def restricted_trial():
    kind, amount, seed = next(iterator)
    with perturbed(net, kind, amount, scope='attn', seed=seed, layers=[last]):
        restricted()


restricted_seconds = timed(restricted_trial, len(trials))

paper_seconds = None
if paper:
    iterator = iter(trials)
    paper_seconds = timed(lambda: paper_trial(net, ids, *next(iterator), max_length, stride, rt.device), len(trials))

n = len(trials)
device_name = torch.cuda.get_device_name(rt.device) if rt.device.type == 'cuda' else f"CPU ({os.cpu_count()} cores, {torch.get_num_threads()} threads, {platform.processor() or platform.machine()})"
params = sum(p.numel() for p in net.parameters())
print(f"\n{device_name}; torch {torch.__version__}; model {model or 'random-init GPT-2'} ({params / 1e6:.1f}M parameters, "
      f"{net.config.num_hidden_layers} layers); {len(ids):,} tokens, windows {max_length}/{stride}, batch {batch_size}; "
      f"{n} trials ({', '.join(kinds)} x {len(levels)} levels x {repeats} repeats), scope attn; "
      f"{sum(p.numel() for _, p in scoped_parameters(net, 'attn')) / 1e6:.1f}M parameters in scope\n")
print("| procedure | seconds per trial | scored tokens/s | vs paper | vs plain forward |")
print("| --- | ---: | ---: | ---: | ---: |")
rows = [("paper's (deepcopy, 1 window/forward, np.percentile, fp32)", paper_seconds),
        ("test_gpt2.py's (in place + restore, batched, scored logits only)", ours_seconds),
        ("plain batched forward, no perturbation (the limit)", forward_seconds * n),
        (f"test_gpt2.py's, layers=[{last}] (cached prefix)", restricted_seconds)]
for name, seconds in rows:
    if seconds is None:
        continue
    versus_paper = f"{paper_seconds / seconds:.2f}x faster" if paper_seconds else '-'
    print(f"| {name} | {seconds / n:.3f} | {tokens * n / seconds:,.0f} | {versus_paper} | {seconds / (forward_seconds * n):.2f} |")
