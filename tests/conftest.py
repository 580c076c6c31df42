"""Shared test set-up: the tests run offline, from the repository root, on a small CPU machine."""

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

# Never wait on the Hugging Face hub: the tests run without a network. One thread per process: the test models
# are tiny, and torch's second thread only waits when another process (a torchrun rank) shares the two cores.
OFFLINE = {'HF_HUB_OFFLINE': '1', 'HF_DATASETS_OFFLINE': '1', 'TRANSFORMERS_OFFLINE': '1'}
os.environ.update(OFFLINE, OMP_NUM_THREADS='1')


def run_script(script, *args, cwd=ROOT, timeout=600):
    """Run a project script as a user would; returns the CompletedProcess (stdout, stderr, returncode)."""
    env = dict(os.environ, PYTHONUNBUFFERED='1', MPLBACKEND='Agg', **OFFLINE)
    return subprocess.run([sys.executable, os.path.join(ROOT, script), *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def run():
    return run_script
