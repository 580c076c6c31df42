"""Device, seeding, mixed precision, torchrun/DDP, parallel processes and model loading: what the torch
scripts share."""

import contextlib
import ctypes
import functools
import os
import random
import signal
import socket
import sys
import traceback
import urllib.parse
from dataclasses import dataclass

import numpy as np
import torch
from tqdm import tqdm

from robustness.config import check, fail, names_local_path


@dataclass
class Runtime:
    device: torch.device
    rank: int = 0
    local_rank: int = 0
    world_size: int = 1

    @property
    def distributed(self):
        return self.world_size > 1

    @property
    def is_master(self):
        return self.rank == 0  # the master process logs, saves and draws


def keep_freed_memory(limit=1 << 30):
    """Have glibc keep freed memory for reuse instead of handing it back to the kernel. By default a buffer above its
    mmap threshold (a few MB: a batch of activations) is mapped on allocation and unmapped on free, so each forward
    pass faults every page in again: non_linear.py's evaluation spent more time in the kernel than in torch
    (bench/RESULTS.md). Below `limit`, buffers now come from the heap and stay there. A no-op off glibc."""
    try:
        libc = ctypes.CDLL('libc.so.6')
        libc.mallopt(-3, limit)  # M_MMAP_THRESHOLD
        libc.mallopt(-1, limit)  # M_TRIM_THRESHOLD
    except (OSError, AttributeError):
        pass


def setup(device='auto'):
    """Pick the device and, when launched by torchrun (RANK in the environment), join the process group.

    One process per GPU under CUDA (nccl); several CPU processes otherwise (gloo).
    """
    keep_freed_memory()
    if device == 'auto':
        device = 'cuda' if torch.cuda.is_available() else 'cpu'
    check(device in ('cpu', 'cuda') or device.startswith('cuda:'), f"device: unknown device {device!r}; valid: auto, cpu, cuda")
    check(not device.startswith('cuda') or torch.cuda.is_available(), "device: cuda was asked for but no GPU is visible")
    if 'RANK' not in os.environ:
        return Runtime(torch.device(device))
    rank, local_rank, world_size = int(os.environ['RANK']), int(os.environ['LOCAL_RANK']), int(os.environ['WORLD_SIZE'])
    if device.startswith('cuda'):
        device = f'cuda:{local_rank}'
        torch.cuda.set_device(device)
    torch.distributed.init_process_group(backend='nccl' if device.startswith('cuda') else 'gloo')
    return Runtime(torch.device(device), rank, local_rank, world_size)


def teardown(runtime):
    if runtime.distributed:
        torch.distributed.destroy_process_group()


def seed_everything(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


PRECISIONS = ('auto', 'fp32', 'bf16')


def autocast(device, precision='auto'):
    """The forward passes' precision: 'auto' is bf16 autocast under CUDA and fp32 on the CPU; 'bf16' autocasts on
    either device; 'fp32' never."""
    if precision == 'bf16' or precision == 'auto' and device.type == 'cuda':
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def parse_models(spec, setting='models'):
    """'mono=results/a/monolingual,bi=results/a/bilingual' -> [('mono', 'results/a/monolingual'), ...]."""
    models = []
    for item in (part.strip() for part in spec.split(',') if part.strip()):
        label, equals, path = item.partition('=')
        check(equals and label.strip() and path.strip(), f"{setting}: {item!r} is not label=path")
        models.append((label.strip(), path.strip()))
    check(models, f"{setting}: no model given")
    labels = [label for label, _ in models]
    check(len(set(labels)) == len(labels), f"{setting}: labels must be unique, got {', '.join(labels)}")
    return models


def parse_pairs(items, labels, setting='compare'):
    """['a:b', ...] -> [(a, b)] for the pairs whose two labels are both among `labels` (others are skipped)."""
    pairs = []
    for item in items:
        first, colon, second = item.partition(':')
        check(colon and first and second, f"{setting}: {item!r} is not label:label")
        if first in labels and second in labels:
            pairs.append((first, second))
    return pairs


def hub_revision(path):
    """(hub id, revision) of an entry 'org/name@revision' (a branch, tag or commit of the hub repository, such as
    B-GPT's training steps); (path, None) for anything else, a local path with an '@' in it included."""
    name, at, revision = path.rpartition('@')
    if at and name and revision and not os.path.exists(path):
        return name, revision
    return path, None


@functools.cache
def _hub_answers(host, port, timeout):
    try:
        socket.create_connection((host, port), timeout=timeout).close()
        return True
    except OSError:
        return False


def hub_reachable(timeout=3.0):
    """Whether the Hugging Face hub can be reached: a TCP connection to its endpoint within `timeout` seconds, tried
    once per process (behind a proxy, assumed yes). Where it cannot, the hub client and datasets go offline for this
    process: they then read their local caches at once instead of retrying for most of a minute, and a missing model
    or dataset is the caller's one-line error within seconds."""
    import huggingface_hub.constants
    reachable = not huggingface_hub.constants.HF_HUB_OFFLINE
    if reachable and not any(os.environ.get(name) for name in ('HTTPS_PROXY', 'https_proxy', 'ALL_PROXY', 'all_proxy')):
        endpoint = urllib.parse.urlparse(huggingface_hub.constants.ENDPOINT)
        reachable = _hub_answers(endpoint.hostname, endpoint.port or 443, timeout)
    if not reachable:
        huggingface_hub.constants.HF_HUB_OFFLINE = True
        if 'datasets' in sys.modules:
            sys.modules['datasets'].config.HF_HUB_OFFLINE = True
    return reachable


def from_pretrained(loader, path, setting, **kwargs):
    """`loader.from_pretrained(path)` with a one-line error for a missing dir or an unreachable hub.

    A local path (config.names_local_path) is a directory; anything else ('gpt2', 'org/name', 'org/name@revision')
    may also be a Hugging Face hub id.
    """
    path, revision = hub_revision(path)
    local = names_local_path(path)
    check(not local or os.path.isdir(path), f"{setting}: model directory {path} does not exist")
    check(not (local and revision), f"{setting}: {path}@{revision}: a revision names a hub model's, not a folder's")
    if not local and not hub_reachable():
        kwargs['local_files_only'] = True  # the cache only: no retries against a hub that cannot answer
    try:
        return loader.from_pretrained(path, **kwargs, **({'revision': revision} if revision else {}))
    except OSError as error:
        if local:
            fail(f"{setting}: cannot load {path}: {str(error).splitlines()[0]}")
        at = f" at revision {revision!r}" if revision else ''
        option = f" --revision {revision}" if revision else ''
        fail(f"{setting}: {path!r}{at} is not a local directory and could not be loaded from the Hugging Face hub "
             f"(no network, or no such model or revision); download it where there is a network "
             f"(hf download {path}{option} --local-dir DIR) and pass --{setting}={'LABEL=' * (setting == 'models')}DIR")


def stop_monitor():
    """Stop tqdm's monitor thread, and keep bars from starting another. It wakes every 10 s and takes tqdm's lock: a
    fork at that moment would leave the child a copy of a lock that never opens. The project runs no other thread
    of its own before a fork."""
    tqdm.monitor_interval = 0
    if tqdm.monitor is not None:
        tqdm.monitor.exit()  # joins the thread
        tqdm.monitor = None


def run_units(function, jobs, slots, log_dir, setting, parallel=True, parts=False):
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
