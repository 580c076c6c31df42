"""Evaluation speed of run_glue_test.py's damage sweeps on the offline translation task: examples/s
of evaluations inside robustness.perturb.perturbed (weights damaged in place, restored on exit) next
to intact passes, and the time spent damaging and restoring as a share of the evaluation time;
for comparison, the paper's way (a deepcopy of the model per trial).

    python bench/bench_glue.py                                   # the default monolingual GPT-2
    python bench/bench_glue.py --model=results/run_glue_test/finetuned/translation_bilingual_seed1337 --passes=10
"""

import contextlib
import copy
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer, DataCollatorWithPadding

from robustness import glue
from robustness.config import configure, settings_checked
from robustness.kinds import weight_kinds
from robustness.perturb import perturbed

# -----------------------------------------------------------------------------
model = 'results/run_glue_test/finetuned/translation_monolingual_seed1337'  # a fine-tuned classifier dir (run run_glue_test.py first)
validation_size = 400  # evaluation verses of the translation task (run_glue_test.py's default)
max_length = 48  # tokens per verse (run_glue_test.py's default)
eval_batch_size = 128  # evaluation batch size
level = 0.5  # damage level of the perturbed passes
noise_level = 0.02  # gaussian_noise std
scope = 'attn'  # damaged weights
passes = 5  # timed passes per measurement
# -----------------------------------------------------------------------------
configure(globals())
settings_checked()

device = torch.device('cpu')
tokenizer = AutoTokenizer.from_pretrained(model)
classifier = AutoModelForSequenceClassification.from_pretrained(model).eval()
split = glue.translation_verses(2, validation_size)['validation']
eval_batches = glue.batches(glue.encode(tokenizer, split, max_length), DataCollatorWithPadding(tokenizer),
                            eval_batch_size, device)
glue.evaluate(classifier, eval_batches, ('accuracy',), device)  # warm-up


def timed(kind, seed):
    """(seconds damaging and restoring, seconds evaluating) of one trial; kind None = intact,
    'deepcopy' = the paper's deepcopy of the model per trial."""
    start = time.perf_counter()
    if kind is None:
        context = contextlib.nullcontext()
    elif kind == 'deepcopy':
        context = contextlib.nullcontext(copy.deepcopy(classifier))
    else:
        context = perturbed(classifier, kind, noise_level if kind == 'gaussian_noise' else level, scope=scope, seed=seed)
    with context:
        applied = time.perf_counter()
        glue.evaluate(classifier, eval_batches, ('accuracy',), device)
        evaluated = time.perf_counter()
    return (applied - start) + (time.perf_counter() - evaluated), evaluated - applied


print(f'{model}: {validation_size} verses, batch {eval_batch_size}, {torch.get_num_threads()} threads, '
      f'{passes} passes each, interleaved with intact passes')
print(f"{'':26} {'eval examples/s':>16} {'intact':>10} {'damage+restore s':>17} {'overhead':>9}")
for kind in (*weight_kinds(), 'deepcopy'):
    damage = evaluation = intact = 0.0
    for seed in range(passes):  # interleaved, so that a busy machine slows both alike
        intact += timed(None, seed)[1]
        d, e = timed(kind, seed)
        damage, evaluation = damage + d, evaluation + e
    print(f'{kind:<26} {passes * validation_size / evaluation:16.1f} {passes * validation_size / intact:10.1f} '
          f'{damage / passes:17.4f} {100 * damage / evaluation:8.2f}%')
