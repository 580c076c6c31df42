"""`make study` end to end at a tiny scale (the Makefile's recipe and the study's configs, with tiny settings added),
and its bad input. Each test runs make in a folder of its own that links the repository's code, so that the study's
results/ and visuals/ land there."""

import json
import os
import shutil
import socket
import subprocess
import sys

import pandas as pd
import pytest

from conftest import OFFLINE, ROOT
from test_lock import holder
from robustness.analysis.schema import read_summary

CODE = ['Makefile', 'configs', 'robustness', 'train_bilingual_gpt2.py', 'test_gpt2.py', 'run_glue_test.py']
TINY = {'STUDY_TRAIN': '--n_layer=1 --n_embd=32 --n_head=2 --vocab_size=400 --block_size=32 --batch_size=4 '
                       '--max_steps=8 --eval_interval=4 --checkpoint_interval=4 --warmup_steps=2 --max_docs=24 '
                       '--train_seeds=1,2',
        'STUDY_SWEEP': '--kinds=random_deletion,magnitude_pruning --levels=0,0.5,1 --repeats=2 --eval_chars=3000 '
                       '--bootstrap=50',
        'STUDY_GLUE': '--train_size=64 --validation_size=32 --max_length=32 --kinds=random_deletion --levels=0,1 '
                      '--repeats=1 --bootstrap=50'}


def make_study(folder, **variables):
    """`make study` in `folder` (the code linked there), with this Python and the tiny settings; the virtualenv is
    taken as built. Returns the CompletedProcess."""
    folder.mkdir(exist_ok=True)
    for name in CODE:
        if not (folder / name).exists():
            (folder / name).symlink_to(os.path.join(ROOT, name))
    assignments = [f'{name}={value}' for name, value in {**TINY, **variables}.items()]
    return subprocess.run(['make', '--no-print-directory', '-o', '.venv/.installed', 'study', f'PY={sys.executable}',
                           *assignments], cwd=folder, capture_output=True, text=True, timeout=600,
                          env=dict(os.environ, PYTHONUNBUFFERED='1', MPLBACKEND='Agg', **OFFLINE))


def test_study_trains_sweeps_and_reports_the_scope_cost(tmp_path):
    result = make_study(tmp_path / 'repo')
    assert result.returncode == 0, result.stderr[-3000:]
    study, visuals = tmp_path / 'repo' / 'results' / 'study', tmp_path / 'repo' / 'visuals' / 'study'
    # five training seeds by default; the tiny run has two of each model, with their checkpoints
    for model in ('monolingual', 'bilingual', 'control'):
        for seed in (1, 2):
            assert (study / 'train_bilingual_gpt2' / model / f'seed_{seed}' / 'model.safetensors').exists()
    # every checkpoint got its floors, the MLPs' included (floor_scopes), and the final step is swept once
    rows = pd.read_csv(study / 'test_gpt2' / 'perplexity.csv')
    # the second language on the final models and their untrained counterparts only
    assert set(rows[rows['text'] == 'uk']['checkpoint']) == {'final', 'untrained'}
    rows = rows[(rows['text'] == 'en') & (rows['checkpoint'] != 'untrained')]
    floors = rows[(rows['kind'] == 'random_deletion') & (rows['level'] == 1.0)]
    assert set(floors['checkpoint']) == {'final', 'step_4'} and set(floors['scope']) == {'attn', 'blocks', 'mlp'}
    assert 'step_8' not in set(rows['checkpoint'])  # the checkpoint of the last step is the final model: swept once
    tokens = pd.read_csv(study / 'test_gpt2' / 'checkpoints.csv')
    assert set(tokens['checkpoint']) == {'final', 'step_4'}
    # the scope cost against training tokens: at every checkpoint, the floor row over the intact row of the CSV
    curves = json.loads((study / 'test_gpt2' / 'summary.json').read_text())['scope_cost_by_checkpoint']
    at = lambda checkpoint, level, scope: rows[(rows['model'] == 'monolingual') & (rows['train_seed'] == 2) & (
        rows['checkpoint'] == checkpoint) & (rows['level'] == level) & (rows['scope'] == scope)]['bpb'].iloc[0]
    for point in curves['monolingual']['attn']:
        checkpoint = tokens[(tokens['model'] == 'monolingual') & (tokens['step'] == point['step'])]['checkpoint'].iloc[0]
        assert point['tokens'] == 32 * 4 * point['step']  # block x batch x steps
        assert point['ratio'][1] == at(checkpoint, 1.0, 'attn') / at(checkpoint, 0.0, 'attn')
    assert [point['step'] for point in curves['monolingual']['attn']] == [4, 8]
    # the report: the scope-cost table from the floor rows, the attention-cost figure, the GLUE section
    report = (visuals / 'README.md').read_text()
    assert 'The scripts of `make study` took' in report and '## run_glue_test.py' in report
    intact = rows[(rows['checkpoint'] == 'final') & (rows['level'] == 0)].groupby(['model', 'train_seed'])['bpb'].first()
    for model in ('monolingual', 'bilingual', 'control'):
        for scope in ('attn', 'mlp', 'blocks'):
            zeroed = floors[(floors['checkpoint'] == 'final') & (floors['model'] == model) & (floors['scope'] == scope)]
            ratio = (zeroed.set_index('train_seed')['bpb'] / intact[model]).mean()
            assert (f"| {model} | {scope} | {intact[model].mean():.3f} | {zeroed['bpb'].mean():.3f} | {ratio:.3f} ("
                    in report)
    assert '![gpt2_scope_cost.png](gpt2_scope_cost.png)' in report and (visuals / 'gpt2_scope_cost.png').exists()
    assert 'Zeroing all attention costs these models' in report
    assert not (tmp_path / 'repo' / 'README.md').exists()  # the study's report leaves the README alone
    assert '## The arms side by side' not in report  # the other arm has not run
    # the evidence beside the report: the CSVs and summaries, no weights; the verdicts again from the copy alone
    data = visuals / 'data'
    assert (data / 'test_gpt2' / 'perplexity.csv').exists() and (data / 'run_glue_test' / 'glue.csv').exists()
    assert not list(data.rglob('*.safetensors')) and (data / 'train_bilingual_gpt2' / 'train_log.csv').exists()
    copy = tmp_path / 'fresh' / 'test_gpt2'
    shutil.copytree(data / 'test_gpt2', copy)
    (copy / 'summary.json').unlink()
    redone = subprocess.run([sys.executable, '-m', 'robustness.analyze', str(copy), f'--visuals_dir={tmp_path / "v"}'],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert redone.returncode == 0, redone.stderr[-2000:]
    tables = lambda path: {key: json.loads(path.read_text())[key] for key in ('comparisons', 'matched_quality', 'answer')}
    assert tables(copy / 'summary.json') == tables(study / 'test_gpt2' / 'summary.json')
    # the other arm's report sets this arm beside it (the own arm's training is tests/test_train_bilingual_gpt2.py's;
    # a copy of this arm stands in for it here, to keep the suite within its budget)
    shutil.copytree(study, tmp_path / 'repo' / 'results' / 'study_own')
    own_report = tmp_path / 'repo' / 'visuals' / 'study_own' / 'README.md'
    result = subprocess.run([sys.executable, '-m', 'robustness.report', '--results=results/study_own',
                             f'--out={own_report}', '--readme=', '--command=make study STUDY_ARM=own',
                             '--arms=results/study'],
                            cwd=tmp_path / 'repo', capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    report = own_report.read_text()
    assert '## The arms side by side' in report and '`study_own`: verdict' in report and '`study`: verdict' in report
    comparisons = read_summary(study / 'test_gpt2' / 'summary.json')['comparisons']
    cells = [row.label.replace('|', r'\|') for row in comparisons]  # the table escapes the names' pipes
    assert all(f'| {cell} |' in report for cell in cells)
    assert "Does the effect of the paper's measurement survive one tokenizer and per-byte scoring?" in report
    assert 'in `study` (one tokenizer)' in report


def test_a_study_into_a_held_out_dir_stops_at_once(tmp_path):
    out = tmp_path / 'repo' / 'results' / 'study' / 'train_bilingual_gpt2'
    _, first = holder(tmp_path, out, 120)
    try:
        assert first.stdout.readline().split()[0] == 'held'
        result = make_study(tmp_path / 'repo')
        assert result.returncode != 0
        assert (f'error: out_dir: {out.relative_to(tmp_path / "repo")} is in use by another run (process {first.pid} '
                f'on {socket.gethostname()}); wait for it to finish, or choose another --out_dir') in result.stderr
        assert [path.name for path in out.iterdir()] == ['.lock']
        assert not (tmp_path / 'repo' / 'results' / 'study' / 'test_gpt2').exists()
    finally:
        first.kill()
        first.wait()


def test_a_study_whose_control_would_train_zero_steps_is_a_one_line_error(tmp_path):
    result = make_study(tmp_path / 'repo', STUDY_TRAIN=TINY['STUDY_TRAIN'] + ' --max_steps=1 --lang2_fraction=0.5')
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if line.startswith('error: ')]
    assert errors == ['error: max_steps: 1 steps with lang2_fraction 0.5 leave the control model 0 steps (it trains on '
                      "the bilingual model's English bytes); raise max_steps or lower lang2_fraction"]
    assert not (tmp_path / 'repo' / 'results').exists()


def test_an_arm_that_does_not_exist_is_a_one_line_error(tmp_path):
    result = make_study(tmp_path / 'repo', STUDY_ARM='nope')
    assert result.returncode != 0
    assert result.stderr.splitlines()[0] == ("STUDY_ARM: no arm 'nope' (configs/study_nope_test_gpt2.py does not "
                                             "exist)")
    assert not (tmp_path / 'repo' / 'results').exists() and not (tmp_path / 'repo' / 'visuals').exists()


ARMS = {  # arm: (its trainings, run at once; its confirmatory rows)
    'dropout': (['study_dropout_train', 'study_dropout_train_plain', 'study_dropout_train_short'],
                ['dropout - plain | random_deletion | attn', 'dropout - plain_short | random_deletion | attn']),
    'dose_low': (['study_dose_low_train'], ['bilingual - control | random_deletion | attn']),
    'dose_high': (['study_dose_high_train'], ['bilingual - control | random_deletion | attn']),
    'width64': (['study_width64_train'], ['bilingual - monolingual | random_deletion | attn',
                                          'bilingual - control | random_deletion | attn']),
    'uk': (['study_uk_train'], []),  # exploratory (docs/statistics.md)
    'annealed': (['study_annealed_train_1000', 'study_annealed_train_1500'], []),
}


@pytest.mark.parametrize('arm', sorted(ARMS))
def test_a_new_arm_is_its_configs_with_a_declared_confirmatory_family(arm):
    """A new arm trains its configs at once and sweeps them once, with no fine-tuning; its confirmatory family names
    rows its sweep has; its trainings pass the script's checks (whole sequences of the second language per batch)."""
    trainings, confirmatory = ARMS[arm]
    plan = subprocess.run(['make', '-n', '--no-print-directory', '-o', '.venv/.installed', 'study', f'STUDY_ARM={arm}',
                           f'PY={sys.executable}'], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert plan.returncode == 0, plan.stderr
    assert f" -j{len(trainings)} {' '.join('train-' + name for name in trainings)}" in plan.stdout
    assert f'test_gpt2.py configs/study_{arm}_test_gpt2.py' in plan.stdout and 'run_glue_test.py' not in plan.stdout
    settings = {'__file__': os.path.join(ROOT, 'configs', f'study_{arm}_test_gpt2.py')}
    exec(open(settings['__file__']).read(), settings)
    from robustness.runtime import parse_models, parse_pairs
    from robustness.settings import confirmatory_rows
    pairs = parse_pairs(settings['compare'], [label for label, _ in parse_models(settings['models'])])
    declared = confirmatory_rows(settings.get('confirmatory', []), pairs, ['random_deletion'], ['attn'])
    assert [f"{row['a']} - {row['b']} | {row['kind']} | {row['scope']}" for row in declared] == confirmatory
    for name in trainings:
        training = {'__file__': os.path.join(ROOT, 'configs', f'{name}.py'), 'lang2_fraction': 0.5, 'batch_size': 16}
        exec(open(training['__file__']).read(), training)
        assert (training['batch_size'] * training['lang2_fraction']).is_integer()
        assert training['out_dir'].startswith(f'results/study_{arm}/')


def test_the_regime_sentence_names_the_models_below_the_line():
    """A report says which models zeroing attention costs less than 1.2x, and says none when every one is above."""
    from robustness.analysis.test_gpt2_report import regime
    mixed = regime({'bilingual': {'attn': {'ratio': [1.35, 1.29]}}, 'control': {'attn': {'ratio': [1.19, 1.21]}}})
    assert '1.19-1.35x' in mixed and 'Below 1.2x (control) ' in mixed
    assert 'at or above 1.2x' in regime({'bilingual': {'attn': {'ratio': [1.35]}}})
