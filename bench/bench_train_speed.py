"""Benchmark: training speed of train_bilingual_gpt2.py's from-scratch model on one CPU thread, per choice that could
buy the study (`make study`) more steps: the GELU as one fused op, AdamW's fused kernel, bf16 autocast, torch.compile.

    python bench/bench_train_speed.py                  # the default model: 4 layers x 128, batch 16 x 128 tokens
    python bench/bench_train_speed.py --steps=100 --n_embd=96

Each variant runs `warmup` steps (torch.compile compiles then), then `steps` timed steps of forward, backward, clipping
and the optimizer on random tokens, one thread (the study trains one model per core). Prints a markdown table.
"""

import os
import platform
import sys
import time

import torch
from transformers import GPT2Config, GPT2LMHeadModel

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from robustness.config import configure, settings_checked

# -----------------------------------------------------------------------------
n_layer = 4                # the model (train_bilingual_gpt2.py's defaults)
n_embd = 128
n_head = 4
vocab_size = 2048
block_size = 128
batch_size = 16
warmup = 5                 # untimed steps first (compilation, allocator)
steps = 40                 # timed steps per variant
# -----------------------------------------------------------------------------
configure(globals())
settings_checked()
torch.set_num_threads(1)

VARIANTS = {  # name: (GPT-2 activation, fused AdamW, bf16 autocast, torch.compile)
    'eager, gelu_new (HF GPT-2 default)': ('gelu_new', False, False, False),
    'eager, gelu_pytorch_tanh (fused, same function)': ('gelu_pytorch_tanh', False, False, False),
    'gelu_pytorch_tanh, fused AdamW': ('gelu_pytorch_tanh', True, False, False),
    'gelu_pytorch_tanh, bf16 autocast': ('gelu_pytorch_tanh', False, True, False),
    'gelu_pytorch_tanh, torch.compile': ('gelu_pytorch_tanh', False, False, True),
}


def timed(activation, fused, bf16, compiled):
    """(seconds of the warm-up steps, timed steps per second)."""
    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(vocab_size=vocab_size, n_positions=block_size, n_embd=n_embd, n_layer=n_layer,
                                       n_head=n_head, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, bos_token_id=0,
                                       eos_token_id=0, activation_function=activation))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, fused=fused)
    forward = torch.compile(model) if compiled else model
    tokens = torch.randint(0, vocab_size, (batch_size, block_size))

    def step():
        with torch.autocast('cpu', dtype=torch.bfloat16, enabled=bf16):
            loss = forward(input_ids=tokens, labels=tokens).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    started = time.perf_counter()
    for _ in range(warmup):
        step()
    warm = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(steps):
        step()
    return warm, steps / (time.perf_counter() - started)


print(f"{platform.processor() or platform.machine()}, torch {torch.__version__}, "
      f"{torch.backends.cpu.get_cpu_capability()}, 1 thread; model {n_layer} x {n_embd}, vocabulary {vocab_size}, "
      f"batch {batch_size} x {block_size} tokens, {steps} timed steps\n")
print("| variant | warm-up s | steps/s | vs HF default |\n| --- | --- | --- | --- |")
base = None
for name, variant in VARIANTS.items():
    warm, rate = timed(*variant)
    base = base or rate
    print(f"| {name} | {warm:.1f} | {rate:.2f} | {rate / base:.2f}x |", flush=True)
