"""Benchmark: where the draw-to-draw spread of a damaged model's bits per byte comes from. Each draw of a random kind
is a different damaged model; the held-out text is finite. More text shrinks only the second part.

    python bench/bench_draw_spread.py                  # the study's bilingual models (make study), attn and blocks
    python bench/bench_draw_spread.py --model=results/study_own/train_bilingual_gpt2/bilingual --draws=10

Each training seed's model is damaged `draws` times per kind, scope and level, as test_gpt2.py's sweep draws it
(seed r for draw r), and each damaged model is scored on the two halves of the held-out text. A draw's score is the
bits per byte over both halves. The part of its variance that more text would remove is the disagreement between
the halves: var(half 1 - half 2) / 4 (halves of equal length, cut between two words). The rest is the damage's.
Prints, per kind, scope and level: the draw-to-draw standard deviation within a seed (averaged over the seeds), its
text part, what is left without it, the seed-to-seed standard deviation of the draw means, and both ratios.
"""

import os
import platform
import sys

import numpy as np
import torch
import transformers
from transformers import AutoModelForCausalLM, AutoTokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from robustness.config import configure, settings_checked
from robustness.corpora import first_characters, read_documents
from robustness.perplexity import Perplexity, SlidingWindowNLL, encode
from robustness.perturb import perturbed

# -----------------------------------------------------------------------------
model = 'results/study/train_bilingual_gpt2/bilingual'  # a family folder of seed_<s>/ models (train_bilingual_gpt2.py)
eval_file = 'results/study/train_bilingual_gpt2/eval_en.txt'  # the held-out text, one document per line
eval_chars = 32000         # the characters scored, as test_gpt2.py reads them (the study: 32,000)
trials = ['random_deletion:attn:0.4', 'random_deletion:blocks:0.2', 'gaussian_noise:attn:0.08']  # kind:scope:level
draws = 6                  # draws per kind, scope, level and seed
window = 128               # tokens per window (the study's block size)
# -----------------------------------------------------------------------------
config = configure(globals())
settings_checked()
transformers.utils.logging.disable_progress_bar()  # no bar per model loaded

documents, _ = read_documents(eval_file, 'eval_file')
text = first_characters('\n'.join(documents) + '\n', eval_chars)
middle = text.index(' ', len(text) // 2) + 1  # a document is a chapter: cut between two words
halves = (text[:middle], text[middle:])
seeds = sorted(name for name in os.listdir(model) if name.startswith('seed_'))
print(f"{model}: {len(seeds)} training seeds; {eval_file}: {len(text):,} characters in halves of "
      f"{len(halves[0]):,} and {len(halves[1]):,}; {draws} draws; {platform.processor() or platform.machine()}, "
      f"{os.cpu_count()} cores, torch {torch.__version__}")

half_bytes = [len(half.encode('utf-8')) for half in halves]
weights = np.array(half_bytes) / sum(half_bytes)
scores = np.zeros((len(trials), len(seeds), draws, 2))  # bpb of each half
for i, seed in enumerate(seeds):
    # a model and its tokenized, batched halves once per seed; every trial and draw reuses them
    network = AutoModelForCausalLM.from_pretrained(os.path.join(model, seed)).eval()
    tokenizer = AutoTokenizer.from_pretrained(os.path.join(model, seed))
    scorers = [SlidingWindowNLL(network, encode(tokenizer, half), window, window, batch_size=32) for half in halves]
    for t, spec in enumerate(trials):
        kind, scope, level = spec.split(':')
        for r in range(draws):
            with perturbed(network, kind, float(level), scope=scope, seed=r):
                scores[t, i, r] = [Perplexity(*scorer(), n_bytes).bpb for scorer, n_bytes in zip(scorers, half_bytes)]

rows = []
for spec, halves_bpb in zip(trials, scores):
    draw_bpb = halves_bpb @ weights                          # (seeds, draws): bits per byte over both halves
    total = draw_bpb.var(axis=1, ddof=1).mean()          # draw-to-draw variance within a seed, mean over seeds
    text_part = ((halves_bpb[..., 0] - halves_bpb[..., 1]).var(axis=1, ddof=1) / 4).mean()
    seed_sd = draw_bpb.mean(axis=1).std(ddof=1)
    damage_sd = np.sqrt(max(total - text_part, 0.0))
    rows.append((spec, np.sqrt(total), np.sqrt(text_part), damage_sd, seed_sd,
                 np.sqrt(total) / seed_sd, damage_sd / seed_sd))

print('\n| kind:scope:level | draw sd (bpb) | its text part | draw sd without it | seed sd of draw means '
      '| draws / seeds | without the text part |')
print('| --- | --- | --- | --- | --- | --- | --- |')
for spec, *numbers in rows:
    print(f"| {spec} | " + ' | '.join(f'{x:.4f}' if j < 4 else f'{x:.2f}' for j, x in enumerate(numbers)) + ' |')
