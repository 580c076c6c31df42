"""Benchmark: the kernel time of a CPU evaluation loop, with glibc's default malloc settings and with
robustness.runtime.keep_freed_memory (what every script's setup() now calls).

    python bench/bench_page_faults.py            # non_linear.py's evaluation, MNIST-sized: 10,000 images, batch 1024

Each setting runs in a fresh process (malloc settings are per process); prints wall, user and system seconds and
minor page faults.
"""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from robustness.config import configure, settings_checked
from robustness.provenance import machine

# -----------------------------------------------------------------------------
images = 10000             # MNIST's test set size (synthetic 28 x 28 images: the timing does not depend on them)
eval_batch_size = 1024     # non_linear.py's default
passes = 3                 # evaluations of every image (a sweep makes one per trial)
width = 16                 # the small backbone's first-stage channels
# -----------------------------------------------------------------------------
config = configure(globals())
settings_checked()
LOOP = f"""
import resource, sys, time, torch
sys.path.insert(0, {ROOT!r})
from robustness.runtime import keep_freed_memory
if sys.argv[1] == 'kept':
    keep_freed_memory()
torch.set_num_threads(1)
from robustness.multitask import MultitaskNet, evaluate, small_resnet
model = MultitaskNet(small_resnet(1, {width}), {2 * width}, 3).eval()
x = torch.randn({images}, 1, 28, 28)
tasks, labels = torch.randint(0, 3, ({images},)), torch.randint(0, 2, ({images},)).float()
before, started = resource.getrusage(resource.RUSAGE_SELF), time.time()
for _ in range({passes}):
    evaluate(model, x, tasks, labels, 3, {eval_batch_size})
after = resource.getrusage(resource.RUSAGE_SELF)
print(time.time() - started, after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime,
      after.ru_minflt - before.ru_minflt)
"""
print(f"\n{machine()}; {images:,} images x {passes} passes, batch {eval_batch_size}, one thread\n")
print("| malloc | wall s | user s | system s | minor page faults |")
print("| --- | ---: | ---: | ---: | ---: |")
for mode, name in (('default', "glibc's default"), ('kept', 'keep_freed_memory()')):
    output = subprocess.run([sys.executable, '-c', LOOP, mode], capture_output=True, text=True, check=True).stdout
    wall, user, system, faults = output.split()
    print(f"| {name} | {float(wall):.1f} | {float(user):.1f} | {float(system):.1f} | {int(faults):,} |")
