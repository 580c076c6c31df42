"""Benchmark: test_gpt2.py on a GPT-2-small state-dict file in the authors' release format, as configs/paper_figure1.py
runs it (windows of 1,024 tokens at stride 512, random deletion of the attention weights).

The authors' files cannot be downloaded here, so the file is a random-init GPT-2 small (124M parameters, 50,257
embedding rows) saved as theirs are: `module.` prefixes, the 2022 attention buffers, a .pth file. The tokenizer is a
byte-level BPE trained on the WEB Bible (vocab.json + merges.txt). The script runs as a user runs it, and the
per-trial seconds come from its own CSV.

    python bench/bench_paper_checkpoint.py                  # ~20k characters of the WEB text, 2 draws per level
    python bench/bench_paper_checkpoint.py --eval_chars=1000000 --repeats=10   # configs/paper_figure1.py's size

Prints the loading time, seconds per trial and scored tokens per second as a markdown table.
"""

import os
import platform
import subprocess
import sys
import tempfile
import time

import torch
from tokenizers import ByteLevelBPETokenizer
from transformers import GPT2Config, GPT2LMHeadModel

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from robustness import corpora
from robustness.config import configure, settings_checked
from robustness.results import read_rows

# -----------------------------------------------------------------------------
eval_chars = 20000         # characters of held-out WEB text evaluated per trial
levels = [0.0, 0.1, 0.2]   # random deletion probabilities of the attention weights
repeats = 2                # draws per damaged level
device = 'auto'            # auto | cpu | cuda
# -----------------------------------------------------------------------------
configure(globals())
settings_checked()

with tempfile.TemporaryDirectory() as folder:
    text = '\n'.join(corpora.chapters(corpora.english_verses()))
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator([text], vocab_size=8192, min_frequency=2, special_tokens=['<|endoftext|>'],
                            show_progress=False)
    os.makedirs(os.path.join(folder, 'tokenizer'))
    bpe.save_model(os.path.join(folder, 'tokenizer'))
    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config())  # GPT-2 small
    state = {f'module.{key}': value for key, value in model.state_dict().items()}
    for block in range(model.config.n_layer):
        state[f'module.transformer.h.{block}.attn.bias'] = torch.tril(torch.ones(1024, 1024)).view(1, 1, 1024, 1024)
        state[f'module.transformer.h.{block}.attn.masked_bias'] = torch.tensor(-1e4)
    path = os.path.join(folder, 'gpt2_small_release.pth')
    torch.save(state, path)
    with open(os.path.join(folder, 'eval.txt'), 'w') as f:
        f.write('\n'.join(corpora.chapters(corpora.english_verses(), books=set(corpora.DEFAULT_EVAL_BOOKS))))
    out = os.path.join(folder, 'out')
    started = time.perf_counter()
    result = subprocess.run([sys.executable, os.path.join(ROOT, 'test_gpt2.py'), f'--models=paper={path}',
                             f'--tokenizers=paper={os.path.join(folder, "tokenizer")}',
                             f'--eval_files=en={os.path.join(folder, "eval.txt")}', '--lm_eval_tasks=', f'--eval_chars={eval_chars}',
                             '--max_length=1024', '--stride=512', '--kinds=random_deletion', '--scope=attn',
                             f'--levels={",".join(map(str, levels))}', f'--repeats={repeats}', '--checkpoints=False',
                             f'--device={device}', f'--out_dir={out}', f'--visuals_dir={os.path.join(folder, "v")}'],
                            capture_output=True, text=True)
    wall = time.perf_counter() - started
    if result.returncode:
        sys.exit(result.stderr[-3000:])
    frame = read_rows(os.path.join(out, 'perplexity.csv'))
    file_mb = os.path.getsize(path) / 1e6

damaged = frame[frame.level > 0]
print(f"\nGPT-2 small (124M) state-dict file in the authors' format ({file_mb:.0f} MB), {platform.processor() or platform.machine()}, "
      f"torch {torch.__version__}, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}\n")
print('| measure | value |\n| --- | --- |')
print(f"| characters evaluated per trial | {eval_chars:,} |")
print(f"| scored tokens per trial | {int(frame.scored_tokens.iloc[0]):,} |")
print(f"| trials | {len(frame)} ({len(damaged)} damaged) |")
print(f"| seconds per trial (median of the damaged ones) | {damaged.seconds.median():.2f} |")
print(f"| scored tokens per second | {frame.tokens.iloc[0] / damaged.seconds.median():,.0f} |")
print(f"| whole run, loading and figures included | {wall:.1f} s |")
print(f"| outside the trials (start-up, loading the file, statistics, figures) | {wall - frame.seconds.sum():.1f} s |")
