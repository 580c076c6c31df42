"""Hub ids, for real and offline: a local Hugging Face hub cache holds a tiny model under one id at two revisions."""

import shutil

import pandas as pd
import pytest
from transformers import AutoModelForCausalLM, AutoTokenizer

from conftest import run_script
from gpt2_fixtures import ruth, save_tiny_model
from robustness.perplexity import evaluate_text

REPO = 'someone/tiny-gpt2'


@pytest.fixture(scope='module')
def hub(tmp_path_factory):
    """HF_HUB_CACHE with REPO at revisions '64000' and '128000' (refs, as B-GPT names its training steps), two
    different tiny models; and the two local folders they came from."""
    root = tmp_path_factory.mktemp('hub')
    repo = root / 'cache' / ('models--' + REPO.replace('/', '--'))
    (repo / 'refs').mkdir(parents=True)
    folders = {}
    for step, (revision, seed) in enumerate((('64000', 0), ('128000', 1)), start=1):
        folders[revision] = root / revision
        save_tiny_model(folders[revision], ruth()[:6000], seed=seed)
        commit = f'{step:040x}'  # a snapshot is named by its commit; a ref file holds the commit it points to
        shutil.copytree(folders[revision], repo / 'snapshots' / commit)
        (repo / 'refs' / revision).write_text(commit)
    (repo / 'refs' / 'main').write_text(f'{2:040x}')
    held_out = [line.strip() for line in ruth()[6000:7500].split('\n') if line.strip()]
    (root / 'eval.txt').write_text('\n'.join(held_out) + '\n')  # as the training script writes it
    return root


def test_a_models_entry_loads_the_revision_it_names(hub, tmp_path, monkeypatch):
    monkeypatch.setenv('HF_HUB_CACHE', str(hub / 'cache'))
    out = tmp_path / 'out'
    result = run_script('test_gpt2.py', f'--models=early={REPO}@64000,late={REPO}@128000', '--compare=late:early',
                        f'--eval_file={hub / "eval.txt"}', '--max_length=32', '--stride=16', '--kinds=random_deletion',
                        '--scope=attn', '--levels=0,0.5', '--repeats=1', '--bootstrap=20', '--epochs=False',
                        f'--out_dir={out}', f'--visuals_dir={out / "v"}')
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
    monkeypatch.setenv('HF_HUB_CACHE', str(hub / 'cache'))
    result = run_script('test_gpt2.py', f'--models=x={REPO}@999', f'--eval_file={hub / "eval.txt"}',
                        f'--out_dir={tmp_path / "out"}')
    assert result.returncode == 1 and len(result.stderr.strip().splitlines()) == 1, result.stderr[-2000:]
    assert "at revision '999'" in result.stderr and '--revision 999' in result.stderr
    assert not (tmp_path / 'out').exists()
