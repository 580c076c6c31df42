"""Hub ids, for real and offline: the tests' hub cache (conftest: HF_HUB_CACHE) holds a tiny model under one id at
two revisions."""

import os
import shutil
import subprocess
import sys
import time

import pandas as pd
import pytest
from transformers import AutoModelForCausalLM, AutoTokenizer

from conftest import OFFLINE, ROOT, one_line_error, run_in_process, run_main
from gpt2_fixtures import ruth, save_tiny_model
from robustness.perplexity import evaluate_text

REPO = 'someone/tiny-gpt2'


@pytest.fixture(scope='module')
def hub(tmp_path_factory):
    """REPO at revisions '64000' and '128000' (refs, as B-GPT names its training steps), two different tiny models,
    in the tests' hub cache; and the two local folders they came from."""
    root = tmp_path_factory.mktemp('hub')
    repo = os.path.join(os.environ['HF_HUB_CACHE'], 'models--' + REPO.replace('/', '--'))
    shutil.rmtree(repo, ignore_errors=True)
    os.makedirs(os.path.join(repo, 'refs'))
    for step, (revision, seed) in enumerate((('64000', 0), ('128000', 1)), start=1):
        save_tiny_model(root / revision, ruth()[:6000], seed=seed)
        commit = f'{step:040x}'  # a snapshot is named by its commit; a ref file holds the commit it points to
        shutil.copytree(root / revision, os.path.join(repo, 'snapshots', commit))
        with open(os.path.join(repo, 'refs', revision), 'w') as f:
            f.write(commit)
    held_out = [line.strip() for line in ruth()[6000:7500].split('\n') if line.strip()]
    (root / 'eval.txt').write_text('\n'.join(held_out) + '\n')  # as the training script writes it
    yield root
    shutil.rmtree(repo, ignore_errors=True)


def test_a_models_entry_loads_the_revision_it_names(hub, tmp_path, monkeypatch):
    out = tmp_path / 'out'
    result = run_main(monkeypatch, 'test_gpt2.py', f'--models=early={REPO}@64000,late={REPO}@128000',
                      '--compare=late:early', f'--eval_files=en={hub / "eval.txt"}', '--lm_eval_tasks=', '--max_length=32', '--stride=16',
                      '--kinds=random_deletion', '--scope=attn', '--levels=0,0.5', '--repeats=1', '--bootstrap=20',
                      '--checkpoints=False', f'--out_dir={out}', f'--visuals_dir={out / "v"}')
    assert result.returncode == 0, result.stderr[-3000:]
    intact = pd.read_csv(out / 'perplexity.csv').query('level == 0').groupby('model')['nll'].first()
    text = (hub / 'eval.txt').read_text()
    for label, revision in (('early', '64000'), ('late', '128000')):
        local = hub / revision
        expected = evaluate_text(AutoModelForCausalLM.from_pretrained(local), AutoTokenizer.from_pretrained(local),
                                 text, 32, 16)
        assert intact[label] == pytest.approx(expected.nll, rel=1e-6), label
    assert intact['early'] != pytest.approx(intact['late'])
    assert f'{REPO}@64000' in (out / 'config.json').read_text()  # the revision is part of the label's provenance


def test_an_unknown_revision_is_one_line_and_writes_nothing(hub, tmp_path, monkeypatch):
    message = one_line_error(run_in_process(monkeypatch, 'test_gpt2.py', f'--models=x={REPO}@999',
                                            f'--eval_files=en={hub / "eval.txt"}', '--lm_eval_tasks=', f'--out_dir={tmp_path / "out"}'))
    assert "at revision '999'" in message and '--revision 999' in message
    assert not (tmp_path / 'out').exists()


def test_an_unreachable_hub_is_one_line_within_seconds(hub, tmp_path):
    """Without offline mode, on a machine that cannot reach the hub (here an endpoint that refuses connections), a hub
    name is one line on stderr within seconds: no retries of the hub client on the screen."""
    env = {name: value for name, value in os.environ.items() if name not in OFFLINE}
    env.update(HF_ENDPOINT='http://127.0.0.1:9', HF_HUB_CACHE=str(tmp_path / 'empty-cache'), PYTHONUNBUFFERED='1')
    started = time.perf_counter()
    result = subprocess.run([sys.executable, os.path.join(ROOT, 'test_gpt2.py'), '--models=x=someorg/somemodel@v9',
                             f'--eval_files=en={hub / "eval.txt"}', '--lm_eval_tasks=', f'--out_dir={tmp_path / "out"}', f'--visuals_dir={tmp_path / "v"}'], env=env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    seconds = time.perf_counter() - started
    assert result.returncode == 1 and result.stderr.count('\n') == 1, result.stderr
    assert result.stderr.startswith("error: models: 'someorg/somemodel' at revision 'v9'")
    assert seconds < 30 and not (tmp_path / 'out').exists()  # the imports take most of it; the retries took 45 s
