"""Benchmark: what a training recipe buys the study (`make study`) in attention use. One model and one training seed
per variant is trained by train_bilingual_gpt2.py, then test_gpt2.py measures at every checkpoint the bpb with all
attention zeroed (and the MLPs, and whole blocks) against intact: the scope cost the study needs at >= 1.2x for every
model and seed (docs/study.md).

    python bench/bench_study_recipe.py                                    # the variants below, 2 at a time
    python bench/bench_study_recipe.py --variants='control_at_half=--train_models=monolingual --max_steps=1300'

A variant is name=settings of train_bilingual_gpt2.py (on top of the default's, with train_seeds=1337 and a checkpoint
every eval_interval steps). Each trains in a process of its own, one thread; two variants take about 10 minutes on 2
cores. Prints a markdown table: per checkpoint, the held-out bpb (first 16,000 characters) and the scope costs.
"""

import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from robustness.config import configure, settings_checked

# -----------------------------------------------------------------------------
variants = ['monolingual_1200=--train_models=monolingual --max_steps=1200',
            'monolingual_1600=--train_models=monolingual --max_steps=1600']  # name=train_bilingual_gpt2.py settings
eval_interval = 400        # steps between checkpoints
jobs = 2                   # variants trained at once (one thread each)
# -----------------------------------------------------------------------------
configure(globals())
settings_checked()


def measure(variant, folder):
    """Train the variant into folder/<name>, sweep its checkpoints' floors; (name, seconds, summary)."""
    name, settings = variant.split('=', 1)
    out = os.path.join(folder, name)
    env = dict(os.environ, OMP_NUM_THREADS='1')
    started = time.perf_counter()
    subprocess.run([sys.executable, os.path.join(ROOT, 'train_bilingual_gpt2.py'), *shlex.split(settings),
                    '--train_seeds=1337', f'--eval_interval={eval_interval}', f'--out_dir={out}',
                    f'--visuals_dir={out}'], env=env, check=True, capture_output=True)
    seconds = time.perf_counter() - started
    model = next(m for m in ('monolingual', 'bilingual', 'control') if os.path.isdir(os.path.join(out, m)))
    subprocess.run([sys.executable, os.path.join(ROOT, 'test_gpt2.py'), f'--models={model}={out}/{model}',
                    f'--eval_files=en={out}/eval_en.txt', '--lm_eval_tasks=', '--kinds=random_deletion', '--levels=0,1', '--repeats=1',
                    '--scope=attn', '--floor_scopes=mlp,blocks', '--checkpoint_kinds=random_deletion',
                    f'--out_dir={out}/sweep', f'--visuals_dir={out}/sweep'], env=env, check=True, capture_output=True)
    with open(os.path.join(out, 'sweep', 'summary.json')) as f:
        return name, seconds, json.load(f)


with tempfile.TemporaryDirectory() as folder, ThreadPoolExecutor(jobs) as pool:
    results = list(pool.map(lambda variant: measure(variant, folder), variants))

print(f"{platform.machine()}, {os.cpu_count()} cores, {jobs} variants at a time, one thread each\n")
print("| variant | training s | step | tokens | intact bpb | attn zeroed / intact | mlp | blocks |")
print("| --- | --- | --- | --- | --- | --- | --- | --- |")
for name, seconds, summary in results:
    (model, scopes), = summary['scope_cost_by_checkpoint'].items()
    for point, mlp, blocks in zip(scopes['attn'], scopes['mlp'], scopes['blocks']):
        print(f"| {name} | {seconds:.0f} | {point['step']} | {point['tokens']:,} | {point['intact'][0]:.3f} | "
              f"{point['ratio'][0]:.3f} | {mlp['ratio'][0]:.3f} | {blocks['ratio'][0]:.3f} |")
