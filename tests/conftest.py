"""Shared test set-up: the tests run offline, from the repository root, on a small CPU machine."""

import atexit
import os
import runpy
import shutil
import subprocess
import sys
import tempfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

# Never wait on the Hugging Face hub: the tests run without a network. One thread per process: the test models
# are tiny, and torch's second thread only waits when another process (a torchrun rank) shares the two cores.
OFFLINE = {'HF_HUB_OFFLINE': '1', 'HF_DATASETS_OFFLINE': '1', 'TRANSFORMERS_OFFLINE': '1'}
os.environ.update(OFFLINE, OMP_NUM_THREADS='1', MPLBACKEND='Agg')
# A hub cache of the tests' own, empty but for what a test puts there (tests/test_hub.py builds one): read by
# huggingface_hub when it is first imported, so it is set before, for this process and every script it starts.
os.environ['HF_HUB_CACHE'] = os.path.join(tempfile.gettempdir(), f'robustness-tests-hub-{os.getpid()}')
atexit.register(shutil.rmtree, os.environ['HF_HUB_CACHE'], ignore_errors=True)
from robustness.runtime import keep_freed_memory  # noqa: E402 (after the environment it reads)

keep_freed_memory()  # the tests that run in this process: no page faults on every batch


def run_script(script, *args, cwd=ROOT, timeout=600):
    """Run a project script as a user would; returns the CompletedProcess (stdout, stderr, returncode)."""
    env = dict(os.environ, PYTHONUNBUFFERED='1', MPLBACKEND='Agg', **OFFLINE)
    return subprocess.run([sys.executable, os.path.join(ROOT, script), *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


def run_in_process(monkeypatch, script, *args):
    """Run a script in this process, as `python script args` would (its imports are then paid once): for the many
    bad-input cases, which stop before any work. Returns the SystemExit it ends with."""
    monkeypatch.setattr(sys, 'argv', [script, *map(str, args)])
    monkeypatch.syspath_prepend(os.path.dirname(os.path.join(ROOT, script)))  # as `python script` puts its folder first
    with pytest.raises(SystemExit) as exit:
        runpy.run_path(os.path.join(ROOT, script), run_name='__main__')
    return exit.value


def run_main(monkeypatch, script, *args):
    """Run a script to its end in this process (imports paid once: each subprocess costs ~10 s of them), for the end
    to end tests beyond each script's one run as a user would (run_script). Returns a CompletedProcess (stdout,
    stderr, returncode) as run_script does. Not for torchrun; parallel processes (robustness.processes.run_parallel)
    are forks of this one and write their output to their logs."""
    import contextlib
    import io
    from robustness.provenance import FIGURES_WRITTEN
    FIGURES_WRITTEN.clear()  # run.json lists the figures of this run only
    monkeypatch.setattr(sys, 'argv', [script, *map(str, args)])
    monkeypatch.syspath_prepend(os.path.dirname(os.path.join(ROOT, script)))
    stdout, stderr, code = io.StringIO(), io.StringIO(), 0
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            runpy.run_path(os.path.join(ROOT, script), run_name='__main__')
        except SystemExit as exit:
            code = exit.code if isinstance(exit.code, int) else 1
            if not isinstance(exit.code, int) and exit.code is not None:
                print(exit.code, file=stderr)
    return subprocess.CompletedProcess([script, *args], code or 0, stdout.getvalue(), stderr.getvalue())


def one_line_error(exit):
    """The message of a script's one-line error (ConfigError), checked to be one; '' for any other exit."""
    message = str(exit.code) if exit.code not in (None, 0) else ''
    assert message.startswith('error: ') and '\n' not in message, message
    return message


@pytest.fixture
def run():
    return run_script


def pytest_sessionfinish(session, exitstatus):
    """The suite's wall time, for the README's measured block (robustness.report): where $SUITE_RECORD names a file
    (`make test` names results/test_suite.json), the controller of a full run of tests/ writes it; xdist workers,
    partial runs and a plain `pytest` write nothing."""
    config = session.config
    partial = config.option.keyword or config.option.markexpr or session.testscollected < 200  # -k / -m select a part
    record = os.environ.get('SUITE_RECORD')
    if not record or hasattr(config, 'workerinput') or partial or exitstatus != 0:
        return
    import datetime
    import json
    import time
    from robustness.provenance import machine, process_started
    workers = getattr(config.option, 'numprocesses', None) or 1
    os.makedirs(os.path.dirname(os.path.abspath(record)), exist_ok=True)
    with open(record, 'w') as f:
        json.dump({'seconds': round(time.time() - process_started(), 1), 'tests': session.testscollected,
                   'workers': workers, 'machine': machine(),
                   'finished': datetime.datetime.now().isoformat(timespec='seconds')}, f, indent=2)


# ----------------------------------------------------------------------------- models the tests damage
def randomized(model, seed=0):
    """Every parameter drawn from N(0, 1): no zeros before a perturbation (HF inits biases to zero)."""
    import torch
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator))
    return model


def gpt2(n_layer=2, seed=0):
    from gpt2_fixtures import tiny_gpt2
    return randomized(tiny_gpt2(vocab_size=200, n_layer=n_layer, n_embd=64, n_head=2), seed)


def bert():
    from transformers import BertConfig, BertForSequenceClassification
    return randomized(BertForSequenceClassification(BertConfig(
        vocab_size=100, hidden_size=32, num_hidden_layers=3, num_attention_heads=2, intermediate_size=64)).eval())


def xlm():
    from transformers import XLMConfig, XLMForSequenceClassification
    return randomized(XLMForSequenceClassification(XLMConfig(vocab_size=100, emb_dim=32, n_layers=2, n_heads=2)).eval())


def llama(seed=0):
    """Grouped-query attention: 4 query heads share 2 key/value heads."""
    from transformers import LlamaConfig, LlamaForCausalLM
    return randomized(LlamaForCausalLM(LlamaConfig(vocab_size=100, hidden_size=32, intermediate_size=64,
                                                   num_hidden_layers=2, num_attention_heads=4,
                                                   num_key_value_heads=2)).eval(), seed)


def bloom():
    from transformers import BloomConfig, BloomForCausalLM
    return randomized(BloomForCausalLM(BloomConfig(vocab_size=100, hidden_size=32, n_layer=2, n_head=4)).eval())


def small_resnet_net(seed=0):
    """non_linear.py's small ResNet with four task heads, on 3-channel images."""
    import torch
    from robustness.multitask import MultitaskNet, small_resnet
    torch.manual_seed(seed)
    return MultitaskNet(small_resnet(3, 8), 16, 4).eval()


def resnet18_net(seed=0):
    """torchvision's ResNet-18 as a backbone (a 10-dim representation), two task heads."""
    import torch
    import torchvision
    from robustness.multitask import MultitaskNet
    torch.manual_seed(seed)
    return MultitaskNet(torchvision.models.resnet18(num_classes=10), 10, 2).eval()


def kind_options(kind):
    """What a kind needs beyond an amount, for the tiny models here: Wanda's calibration tokens, an N:M group that
    divides every matrix (the resnet18 backbone's representation has 10 dims)."""
    import torch
    return {'calibration': torch.arange(48).view(3, 16) % 100} if kind == 'wanda_pruning' else \
        {'group': 2} if kind == 'nm_pruning' else {}


def snapshot(model):
    return {name: tensor.clone() for name, tensor in model.state_dict().items()}


# ----------------------------------------------------------------------------- saved models the scripts read
@pytest.fixture(scope='session')
def tiny_dir(tmp_path_factory):
    """A tiny GPT-2 folder (2 blocks, 64 positions, trained a few steps on Ruth) and a held-out text file."""
    from gpt2_fixtures import ruth, save_tiny_model
    root = tmp_path_factory.mktemp('tiny_model')
    text = ruth()
    save_tiny_model(root / 'model', text[:6000], seed=0, n_layer=2, steps=30)
    held_out = [line.strip() for line in text[6000:7500].split('\n') if line.strip()]
    (root / 'eval.txt').write_text('\n'.join(held_out) + '\n')
    return root
