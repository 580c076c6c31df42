"""Evaluation speed of run_glue_test.py's damage sweeps: examples/s of an undamaged evaluation pass,
of evaluations inside robustness.perturb.perturbed (weights damaged in place and restored), and of
the paper's way (a deepcopy of the model per trial), on the offline paraphrase task.

    python bench/bench_glue.py                                   # the default monolingual GPT-2
    python bench/bench_glue.py --model=results/run_glue_test/finetuned/paraphrase_bilingual --passes=10
"""

import copy
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer, DataCollatorWithPadding

from robustness import glue
from robustness.config import configure
from robustness.perturb import KINDS, perturbed

# -----------------------------------------------------------------------------
model = 'results/run_glue_test/finetuned/paraphrase_monolingual'  # a fine-tuned classifier dir (run run_glue_test.py first)
validation_pairs = 300  # evaluation pairs of the paraphrase task
max_length = 128  # tokens per pair
eval_batch_size = 128  # evaluation batch size
level = 0.5  # damage level of the perturbed passes
scope = 'attn'  # damaged weights
passes = 5  # timed passes per measurement
# -----------------------------------------------------------------------------
configure(globals())

device = torch.device('cpu')
tokenizer = AutoTokenizer.from_pretrained(model)
classifier = AutoModelForSequenceClassification.from_pretrained(model).eval()
split = glue.paraphrase_pairs(2, validation_pairs)['validation']
eval_batches = glue.batches(glue.encode(tokenizer, split, max_length), DataCollatorWithPadding(tokenizer),
                            eval_batch_size, device)
glue.evaluate(classifier, eval_batches, ('accuracy',), device)  # warm-up


def rate(step):
    start = time.perf_counter()
    for seed in range(passes):
        step(seed)
    return passes * validation_pairs / (time.perf_counter() - start)


def damaged(kind):
    def step(seed):
        with perturbed(classifier, kind, level, scope=scope, seed=seed):
            glue.evaluate(classifier, eval_batches, ('accuracy',), device)
    return step


def deepcopied(seed):  # the paper's run_glue_test.py copied the whole model per trial
    copy.deepcopy(classifier)
    glue.evaluate(classifier, eval_batches, ('accuracy',), device)


print(f'{model}: {validation_pairs} pairs, batch {eval_batch_size}, {torch.get_num_threads()} threads, '
      f'{passes} passes each')
clean = rate(lambda seed: glue.evaluate(classifier, eval_batches, ('accuracy',), device))
print(f'undamaged evaluation            {clean:8.1f} examples/s')
for kind in KINDS:
    speed = rate(damaged(kind))
    print(f'{kind:<26} {level:4} {speed:8.1f} examples/s  (overhead {100 * (clean / speed - 1):+.1f}% of eval time)')
speed = rate(deepcopied)
print(f'deepcopy per trial (paper)      {speed:8.1f} examples/s  (overhead {100 * (clean / speed - 1):+.1f}% of eval time)')
