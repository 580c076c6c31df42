"""Device, seeding, mixed precision, torchrun/DDP and the models and pairs settings: what the torch scripts share.
Hub loading is in robustness.hub, processes in robustness.processes."""

import contextlib
import ctypes
import os
import random
from dataclasses import dataclass

import numpy as np
import torch

from robustness.config import check


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
    check(device in ('cpu', 'cuda') or device.startswith('cuda:'),
          f"device: unknown device {device!r}; valid: auto, cpu, cuda")
    check(not device.startswith('cuda') or torch.cuda.is_available(),
          "device: cuda was asked for but no GPU is visible")
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
