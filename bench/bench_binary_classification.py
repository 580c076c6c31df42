"""Wall time of binary_classification.py: the offline default (digits) and an MNIST-sized run.

MNIST cannot be downloaded offline, so the MNIST-sized run reads a synthetic set of the real size (60,000 + 10,000
images of 28x28 in torchvision's IDX format) through torchvision's real reader: only its time is meaningful.

    python bench/bench_binary_classification.py
"""

import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'tests'))
from idx_fixture import synthetic_digits, write_mnist  # noqa: E402


def timed(*args):
    with tempfile.TemporaryDirectory() as out:
        started = time.time()
        subprocess.run([sys.executable, os.path.join(ROOT, 'binary_classification.py'), *args,
                        f'--out_dir={out}/results', f'--visuals_dir={out}/visuals'], check=True, capture_output=True)
        return time.time() - started


print(f"digits, default grid (T=4..9, 4 kinds, 11 levels, 1,000 additive-noise and 20 other draws): {timed():.1f} s")
with tempfile.TemporaryDirectory() as data_root:
    for train, count in ((True, 60_000), (False, 10_000)):
        write_mnist(data_root, *synthetic_digits(count, seed=int(train)), train=train)
    seconds = timed('--dataset=mnist', f'--data_root={data_root}', '--max_samples=12000')
    print(f"MNIST-sized (60k synthetic images, max_samples=12000, same grid): {seconds:.1f} s")
