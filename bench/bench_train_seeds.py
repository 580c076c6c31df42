"""Benchmark: training several seeds of train_bilingual_gpt2.py's offline default model on a CPU, one after
another in one process (torch's threads on all cores) against one single-thread process per (model, seed).

    python bench/bench_train_seeds.py                      # 2 seeds x monolingual, 150 steps each
    python bench/bench_train_seeds.py --train_seeds=1,2,3,4 --steps=300

Prints the wall times and the speed-up as a markdown table.
"""

import os
import platform
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from robustness.config import configure, settings_checked

# -----------------------------------------------------------------------------
train_seeds = [1, 2]       # training seeds
steps = 150                # optimizer steps per model (the default model: 4 layers x 128, batch 16 x 128 tokens)
models = 'monolingual'     # train_models
# -----------------------------------------------------------------------------
configure(globals())
settings_checked()


def timed(jobs, threads):
    with tempfile.TemporaryDirectory() as out:
        env = dict(os.environ, OMP_NUM_THREADS=str(threads))
        started = time.perf_counter()
        subprocess.run([sys.executable, os.path.join(ROOT, 'train_bilingual_gpt2.py'), f'--train_models={models}',
                        f'--train_seeds={",".join(map(str, train_seeds))}', f'--max_steps={steps}', f'--eval_interval={steps}',
                        f'--jobs={jobs}', f'--out_dir={out}', f'--visuals_dir={out}'], env=env, check=True,
                       capture_output=True)
        return time.perf_counter() - started


cores = os.cpu_count()
one_process = timed(jobs=1, threads=cores)
parallel = timed(jobs=0, threads=1)
print(f"\n{len(train_seeds)} seeds x {models}, {steps} steps each; {cores} cores, {platform.machine()}\n")
print('| how | wall time | speed-up |\n| --- | --- | --- |')
print(f"| one process, seeds one after another, {cores} threads | {one_process:.1f} s | 1.00 |")
print(f"| one single-thread process per (model, seed), {min(cores, len(train_seeds))} at a time | {parallel:.1f} s | "
      f"{one_process / parallel:.2f} |")
