"""Units of work (a model x training seed) run in processes of their own: forks of the running script that call a
function, each with one thread and a log of its own."""

import os
import signal
import sys
import threading
import traceback

import torch
from tqdm import tqdm
from tqdm._monitor import TMonitor

from robustness.config import check


def stop_monitor():
    """Stop tqdm's monitor threads, and keep bars from starting others. A monitor wakes every 10 s and takes tqdm's
    lock: a fork at that moment would leave the child a copy of a lock that never opens. Every tqdm class has its
    own (the hub client's and datasets' bars are tqdm.auto's). The project runs no other thread of its own before a
    fork."""
    tqdm.monitor_interval = 0  # inherited by every tqdm class that does not set its own
    for thread in threading.enumerate():
        if isinstance(thread, TMonitor):
            thread.exit()  # joins the thread
    classes = [tqdm]
    while classes:
        cls = classes.pop()
        classes += cls.__subclasses__()
        if cls.__dict__.get('monitor') is not None:
            cls.monitor = None


def run_jobs(function, jobs, slots, log_dir, setting, parallel=True, parts=False):
    """Call `function(*args)` for each job of `jobs` ([(name, args)]): where `parallel` and there is more than one
    slot, in processes of their own (`run_parallel`; with `parts`, each also gets part=name, the part file it writes
    its rows to), else one after another in this process."""
    if parallel and slots > 1:
        run_parallel(function, [(name, args, {'part': name} if parts else {}) for name, args in jobs], slots, log_dir,
                     setting)
    else:
        for _, args in jobs:
            function(*args)


def _fork(function, args, kwargs, log_path):
    """A fork of this process that calls `function(*args, **kwargs)` with one thread, its output in `log_path`; its pid.

    The fork has the parent's imports and data already, which a fresh interpreter would pay for again
    (bench/bench_workers.py). It exits with the function's status and never returns here."""
    stop_monitor()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid:
        return pid
    status = 1
    try:
        log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(log, 1)
        os.dup2(log, 2)
        # new text streams on the log: the parent's may be replaced ones (pytest's capture) that write elsewhere
        sys.stdout, sys.stderr = (open(fd, 'w', buffering=1, encoding='utf-8', errors='replace', closefd=False)
                                  for fd in (1, 2))
        torch.set_num_threads(1)
        os.environ['TOKENIZERS_PARALLELISM'] = 'false'  # one thread in the tokenizers library too
        tqdm._instances.clear()  # the parent's bars: the worker's own would be drawn below them, with cursor moves
        function(*args, **kwargs)
        status = 0
    except SystemExit as exit:  # a one-line error (robustness.config.fail) is a SystemExit with its message
        if exit.code is None or isinstance(exit.code, int):
            status = exit.code or 0
        else:
            print(exit.code, file=sys.stderr)
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)  # not the parent's atexit handlers, nor its buffered output


def run_parallel(function, jobs, slots, log_dir, setting):
    """Call `function(*args, **kwargs)` for each job of `jobs` ([(name, args, kwargs)]), each in a process of its own
    with one thread,
    `slots` at a time, in the order given; the output of each goes to log_dir/<name>.out and its last line is shown
    here. The models here are small: on a CPU, independent single-thread processes go faster than one process with
    several threads, which wait on each other (bench/RESULTS.md). Each process is a fork (see _fork):
    multiprocessing's pools would pickle the work and give no job a log of its own. A failure stops the others and
    is a one-line error naming `setting`."""
    os.makedirs(log_dir, exist_ok=True)
    pending, running = list(jobs), {}
    progress = tqdm(total=len(jobs), desc=f'{len(jobs)} processes, {slots} at a time')
    try:
        while pending or running:
            while pending and len(running) < slots:
                name, args, kwargs = pending.pop(0)
                log_path = os.path.join(log_dir, f'{name}.out')
                running[_fork(function, args, kwargs, log_path)] = (name, log_path)
            pid, status = os.wait()
            if pid not in running:
                continue
            name, log_path = running.pop(pid)
            progress.update()
            code = os.waitstatus_to_exitcode(status)
            lines = open(log_path, encoding='utf-8', errors='replace').read().strip().splitlines()
            check(code == 0, f"{setting}: {name} failed (exit status {code}): "
                             f"{lines[-1] if lines else 'no output'} (log: {log_path})")
            tqdm.write(lines[-1] if lines else f"{name}: done")
    finally:
        for pid in running:  # an error or ^C: stop the other processes too
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        progress.close()
