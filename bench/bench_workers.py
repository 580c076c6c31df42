"""What a CPU process for one (model, seed) costs to start: a fresh interpreter that runs the script again (the
scripts' way until 2026-12-01) against a fork of the running script that calls a function (robustness.runtime.
run_parallel, now).

The fresh interpreter runs `script --help`: the script's imports and settings, then exit. The fork calls a function
that returns at once: it has the imports of its parent already.

    python bench/bench_workers.py
    python bench/bench_workers.py --script=run_glue_test.py --processes=6
"""

import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import transformers  # noqa: F401  (what every script's parent has imported before it starts its processes)

from robustness.config import configure, settings_checked
from robustness.processes import run_parallel

# -----------------------------------------------------------------------------
script = 'train_bilingual_gpt2.py'  # the script whose processes start
processes = 4  # processes started
slots = 2  # at a time
# -----------------------------------------------------------------------------
configure(globals())
settings_checked()

path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), script)

start = time.perf_counter()
running = []
for _ in range(processes):  # fresh interpreters, `slots` at a time
    if len(running) == slots:
        running.pop(0).wait()
    running.append(subprocess.Popen([sys.executable, path, '--help'], stdout=subprocess.DEVNULL,
                                    env=dict(os.environ, OMP_NUM_THREADS='1')))
for process in running:
    process.wait()
fresh = time.perf_counter() - start

start = time.perf_counter()
run_parallel(lambda: None, [(str(i), (), {}) for i in range(processes)], slots, tempfile.mkdtemp(prefix='bench_workers_'),
             'processes')
forked = time.perf_counter() - start

per_process = lambda seconds: seconds * slots / processes
print(f'{script}: {processes} processes, {slots} at a time')
print(f'  fresh interpreters running the script: {fresh:.2f} s ({per_process(fresh):.2f} s per process)')
print(f'  forks calling a function: {forked:.3f} s ({per_process(forked):.3f} s per process)')
