"""What produced a run, recorded next to its results: out_dir/run.json with the script, its wall time, the machine and
device, the commit and package versions, and the figures it wrote."""

import datetime
import hashlib
import importlib.metadata
import json
import os
import platform
import subprocess
import sys
import time

import torch

FIGURES_WRITTEN = {}  # {path: fingerprint} of every figure this process saved (robustness.plots.save), for run.json
FINGERPRINT_MARK = 'sha256'  # the comment after each embedded figure: the fingerprint of the file the run drew


def figure_markdown(figure, report_dir, recorded):
    """A report's Markdown of a figure, and in a comment the fingerprint of the file its run drew (tests/test_docs.py
    checks the committed reports by it)."""
    return (f"![{os.path.basename(figure)}]({os.path.relpath(figure, report_dir)})\n"
            f"<!-- {FINGERPRINT_MARK} {recorded} -->")


def fingerprint(path):
    """The SHA-256 of a file's bytes: run.json records it for each figure, so that a report can refuse one that another
    run has since overwritten."""
    with open(path, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


def machine():
    """What the run ran on, in words."""
    cpu = platform.processor() or platform.machine()
    try:
        with open('/proc/cpuinfo') as f:
            cpu = next(line.split(':', 1)[1].strip() for line in f if line.startswith('model name'))
    except (OSError, StopIteration):
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'no GPU'
    return f"{cpu}, {os.cpu_count()} cores, {gpu}"


def process_started():
    """When this process started (time.time() scale): from /proc on Linux, imports included; else this module's
    import."""
    try:
        with open('/proc/self/stat') as f:
            ticks = int(f.read().rsplit(')', 1)[1].split()[19])
        with open('/proc/stat') as f:
            boot = next(int(line.split()[1]) for line in f if line.startswith('btime'))
        return boot + ticks / os.sysconf('SC_CLK_TCK')
    except (OSError, StopIteration, ValueError, IndexError):
        return IMPORTED


IMPORTED = time.time()


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def provenance():
    """What produced a run: the commit and whether the tracked code had changes (None outside a git checkout), and the
    installed version of every package that requirements.txt pins."""
    git = lambda *args: subprocess.run(['git', *args], cwd=ROOT, capture_output=True, text=True, timeout=30)
    try:
        head = git('rev-parse', 'HEAD')
        commit = head.stdout.strip() if head.returncode == 0 else None
        # a run rewrites visuals/ and the README's measured block itself: those are output, not changes to the code
        dirty = bool(git('status', '--porcelain', '--untracked-files=no', '--', '.', ':(exclude)visuals',
                         ':(exclude)README.md').stdout.strip()) if commit else None
    except (OSError, subprocess.TimeoutExpired):
        commit = dirty = None
    packages = {}
    with open(os.path.join(ROOT, 'requirements.txt')) as f:
        for line in f:
            name = line.split('#')[0].strip().partition('==')[0].strip()
            if name:
                try:
                    packages[name] = importlib.metadata.version(name)
                except importlib.metadata.PackageNotFoundError:
                    packages[name] = None
    return {'commit': commit, 'dirty': dirty, 'packages': packages}


def record_run(out_dir):
    """Write out_dir/run.json: the script, its wall time (from the process's start), the machine and device, the
    commit and package versions (`provenance`) and the figures it wrote, each with its fingerprint."""
    os.makedirs(out_dir, exist_ok=True)
    device = f"cuda ({torch.cuda.get_device_name(0)})" if torch.cuda.is_available() else 'cpu'
    record = {'script': os.path.basename(sys.argv[0]), 'seconds': round(time.time() - process_started(), 1),
              'finished': datetime.datetime.now().isoformat(timespec='seconds'), 'machine': machine(),
              'device': device, 'python': platform.python_version(), 'torch': torch.__version__, **provenance(),
              'figures': dict(sorted(FIGURES_WRITTEN.items()))}
    with open(os.path.join(out_dir, 'run.json'), 'w') as f:
        json.dump(record, f, indent=2)
