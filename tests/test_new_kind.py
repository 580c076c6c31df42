"""docs/kinds.md's promise: a kind is one entry of robustness.kinds.KINDS and one function, and then every script
sweeps it. A sign flip, registered for this test alone, is swept by each of the four damage scripts at a tiny size."""

import json

import pandas as pd
import pytest
import torch

from conftest import run_main
from robustness.kinds import KINDS, Kind, uniform


def sign_flip(model, amount, generator, parameters, options):
    for name, w in parameters:
        w.mul_(torch.where(uniform(generator(name), w.shape, w.device) < amount, -1.0, 1.0).to(w.dtype))


def flip_entries(W, amount, draws):
    return W * torch.where(draws < amount, -1.0, 1.0)


@pytest.fixture
def registered(monkeypatch):
    """The sign flip in KINDS for one test (monkeypatch takes it out again)."""
    monkeypatch.setitem(KINDS, 'sign_flip', Kind('sign_flip', sign_flip, 0.0, 1.0, False, 'levels',
                                                 'Sign flip probability', on_matrix=flip_entries,
                                                 sample=torch.rand, matrix_label='Sign flip probability p'))
    monkeypatch.setenv('OMP_NUM_THREADS', '1')  # tiny models gain nothing from threads


def damaged_differs(frame, value):
    """The flipped rows of a script's CSV: an intact level and a damaged one whose scores differ from it."""
    rows = frame[frame['kind'] == 'sign_flip']
    intact, damaged = rows[rows['level'] == 0][value], rows[rows['level'] == 0.5][value]
    return len(intact) and len(damaged) and not set(damaged.round(9)) <= set(intact.round(9))


def test_every_script_sweeps_a_kind_registered_in_one_place(registered, tiny_dir, tmp_path, monkeypatch):
    runs = {
        'binary_classification.py': (['--task_counts=4', '--repeats=2', '--steps=50', '--levels=0,0.5'],
                                     'linear.csv', 'mse', 'digits_sign_flip_mse.png'),
        'non_linear.py': (['--task_counts=1', '--max_samples=60', '--epochs=2', '--train_seeds=0', '--repeats=2',
                           '--width=8', '--levels=0,0.5', '--jobs=1'],
                          'nonlinear.csv', 'accuracy', 'digits_nonlinear_sign_flip.png'),
        'test_gpt2.py': ([f'--models=m={tiny_dir / "model"}', f'--eval_files=en={tiny_dir / "eval.txt"}',
                          '--lm_eval_tasks=', '--scope=attn', '--levels=0,0.5', '--repeats=2', '--max_length=32',
                          '--checkpoints=False'],
                         'perplexity.csv', 'nll', 'gpt2_sign_flip.png'),
        'run_glue_test.py': ([f'--models=m={tiny_dir / "model"}', '--train_size=32', '--validation_size=16',
                              '--epochs=1', '--batch_size=16', '--max_length=32', '--scope=attn', '--levels=0,0.5',
                              '--repeats=2', '--jobs=1'],
                             'glue.csv', 'loss', 'glue_translation_sign_flip.png'),
    }
    for script, (args, csv, value, figure) in runs.items():
        out = tmp_path / script
        result = run_main(monkeypatch, script, *args, '--kinds=sign_flip', f'--out_dir={out}',
                          f'--visuals_dir={out / "visuals"}')
        assert result.returncode == 0, (script, result.stderr[-3000:])
        assert damaged_differs(pd.read_csv(out / csv), value), script
        assert (out / 'visuals' / figure).stat().st_size > 10_000, script
        assert 'sign_flip' in json.loads((out / 'config.json').read_text())['kinds'], script
