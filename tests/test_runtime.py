"""robustness.runtime: freed activation buffers stay with the process (keep_freed_memory), so a loop of forward
passes does not fault every page in again; worker processes are forks that run the script again (run_workers)."""

import os
import subprocess
import sys

import pytest
import torch

from conftest import ROOT
from robustness.config import ConfigError
from robustness.runtime import run_workers

WORKER = """
import os, sys, torch
print('flag', os.environ.get('TEST_WORKER'), 'threads', torch.get_num_threads(), 'argv', ' '.join(sys.argv[1:]))
if '--fail' in sys.argv:
    raise SystemExit('error: this worker broke')
"""


def test_workers_run_the_script_again_with_their_arguments_and_a_failure_is_one_line(tmp_path, monkeypatch):
    script = tmp_path / 'script.py'
    script.write_text(WORKER)
    monkeypatch.setattr(sys, 'argv', [str(script), '--shared=1'])
    threads = torch.get_num_threads()
    run_workers([('a', ['--own=a']), ('b', ['--own=b'])], 2, str(tmp_path / 'logs'), 'TEST_WORKER', 'jobs')
    for name in 'ab':
        assert (tmp_path / 'logs' / f'{name}.out').read_text().strip() == f'flag 1 threads 1 argv --shared=1 --own={name}'
    assert 'TEST_WORKER' not in os.environ and torch.get_num_threads() == threads  # the parent is as it was
    with pytest.raises(ConfigError) as error:
        run_workers([('ok', []), ('bad', ['--fail'])], 1, str(tmp_path / 'logs'), 'TEST_WORKER', 'jobs')
    assert error.value.message.startswith('jobs: bad failed (exit status 1): error: this worker broke (log: ')

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
