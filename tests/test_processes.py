"""robustness/processes.py: units of work in processes of their own, forks that call a function with one thread,
each with its log; a failure is a one-line error; no fork inherits tqdm's monitor lock."""

import os
import threading

import pytest
import torch
from tqdm import tqdm
from tqdm.auto import tqdm as tqdm_auto
from tqdm._monitor import TMonitor

from robustness.config import ConfigError, fail
from robustness.processes import run_parallel, run_jobs


def job(name, fails=False):
    print('job', name, 'threads', torch.get_num_threads(), 'pid', os.getpid())
    if fails:
        fail(f'job {name} broke')


def test_processes_call_the_function_with_their_arguments_and_a_failure_is_one_line(tmp_path):
    threads = torch.get_num_threads()
    run_parallel(job, [('a', ('a',), {}), ('b', ('b',), {})], 2, str(tmp_path / 'logs'), 'jobs')
    for name in 'ab':
        words = (tmp_path / 'logs' / f'{name}.out').read_text().split()
        assert words[:4] == ['job', name, 'threads', '1'] and int(words[5]) != os.getpid()  # another process
    assert torch.get_num_threads() == threads  # the parent is as it was
    with pytest.raises(ConfigError) as error:
        run_parallel(job, [('ok', ('ok',), {}), ('bad', ('bad',), {'fails': True})], 1, str(tmp_path / 'logs'), 'jobs')
    assert error.value.message.startswith('jobs: bad failed (exit status 1): error: job bad broke (log: ')


def writes_a_line(name):
    tqdm.write(f'{name} wrote through tqdm')  # takes tqdm's lock in the child


def test_no_fork_inherits_the_lock_of_tqdms_monitor(tmp_path):
    """tqdm's monitor thread takes tqdm's lock every so often; a fork while it holds it would hang the child's first
    tqdm.write. run_parallel stops the monitor before any fork, and no bar starts another."""
    saved = tqdm.monitor_interval
    tqdm.monitor_interval = 0.001  # a monitor that wakes all the time: the race made likely
    try:
        bar = tqdm(total=10, disable=False, file=open(os.devnull, 'w'))
        auto_bar = tqdm_auto(total=10, disable=False, file=open(os.devnull, 'w'))  # a subclass: a monitor of its own
        assert tqdm.monitor is not None and tqdm.monitor.is_alive()
        monitor = tqdm.monitor
        run_jobs(writes_a_line, [(f'j{i}', (f'j{i}',)) for i in range(6)], 2, str(tmp_path / 'logs'), 'jobs')
        bar.close()
        auto_bar.close()
        assert not monitor.is_alive() and tqdm.monitor is None and tqdm.monitor_interval == 0
        assert not any(isinstance(thread, TMonitor) for thread in threading.enumerate())  # every tqdm class's
        for i in range(6):
            assert (tmp_path / 'logs' / f'j{i}.out').read_text() == f'j{i} wrote through tqdm\n'
    finally:
        tqdm.monitor_interval = saved
