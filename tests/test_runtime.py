"""robustness/runtime.py: freed activation buffers stay with the process (keep_freed_memory), so a loop of forward
passes does not fault every page in again."""

import subprocess
import sys

from conftest import ROOT

LOOP = """
import resource, sys, torch
sys.path.insert(0, {root!r})
if sys.argv[1] == 'keep':
    from robustness.runtime import keep_freed_memory
    keep_freed_memory()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(50):
    torch.ones(16 * 1024 * 1024)  # 64 MB, freed at once: above glibc's default mmap threshold
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def faults(mode):
    result = subprocess.run([sys.executable, '-c', LOOP.format(root=ROOT), mode], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    return int(result.stdout.strip())


def test_freed_buffers_are_reused_without_page_faults():
    default, kept = faults('default'), faults('keep')
    assert default > 50 * 16_000 * 0.9  # every 64 MB buffer faulted in again: ~16k pages each
    assert kept < default / 5  # the first few buffers only
