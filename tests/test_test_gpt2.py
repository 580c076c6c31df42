"""End-to-end tests of test_gpt2.py on tiny GPT-2 models, run as a user would."""

import importlib.metadata
import json
import math
import os
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import scipy.stats
import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from conftest import OFFLINE, ROOT, one_line_error, run_in_process, run_main, run_script
from gpt2_fixtures import ruth, save_tiny_model
from robustness.perplexity import evaluate_text
from robustness.perturb import perturbed


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    """Two tiny GPT-2 models (the first with a step_150 training checkpoint) and a held-out text."""
    root = tmp_path_factory.mktemp('tiny')
    text = ruth()
    save_tiny_model(root / 'mono', text[:6000], seed=0, n_layer=2)
    save_tiny_model(root / 'mono' / 'step_150', text[:6000], seed=3, n_layer=2)
    save_tiny_model(root / 'bi', text[:6000], seed=1, n_layer=2, vocab_size=280)
    held_out = [line.strip() for line in text[6000:7500].split('\n') if line.strip()]
    (root / 'eval.txt').write_text('\n'.join(held_out) + '\n')  # as the training script writes it
    return root


def common(tiny, out):
    return [f'--models=monolingual={tiny / "mono"},bilingual={tiny / "bi"}', f'--eval_file={tiny / "eval.txt"}',
            f'--out_dir={out}', f'--visuals_dir={out / "visuals"}', '--max_length=32', '--stride=16',
            '--bootstrap=50', '--repeats=2']


def test_sweep_end_to_end_and_resume(tiny, tmp_path, monkeypatch):
    out = tmp_path / 'out'
    args = common(tiny, out) + ['--kinds=random_deletion,magnitude_pruning,gaussian_noise', '--scope=attn,blocks',
                                '--levels=0,0.5', '--noise_levels=0,0.1']
    result = run_script('test_gpt2.py', *args)
    assert result.returncode == 0, result.stderr[-2000:]
    frame = pd.read_csv(out / 'perplexity.csv')
    for column in 'model,checkpoint,kind,scope,level,repeat,nll,tokens,bytes,ppl,bpb,sparsity'.split(','):
        assert column in frame.columns
    # final: 2 models x 2 scopes x (random: 1 + 2 + the floor at 1.0, magnitude: 1 + 1, noise: 1 + 2); step_150:
    # 2 scopes x (magnitude 2 + the floor)
    assert len(frame[frame['checkpoint'] == 'final']) == 2 * 2 * (4 + 2 + 3)
    floors = frame[(frame['kind'] == 'random_deletion') & (frame['level'] == 1)]
    assert (floors['sparsity'] == 1).all() and (floors['repeat'] == 0).all()
    assert len(floors[floors['checkpoint'] == 'step_150']) == 2
    floors = floors[floors['checkpoint'] == 'final']
    assert len(floors) == 4
    assert len(frame[frame['checkpoint'] == 'step_150']) == 2 * 3 and set(frame['model'][frame['checkpoint'] == 'step_150']) == {'monolingual'}
    text = (tiny / 'eval.txt').read_text()
    assert (frame['bytes'] == len(text.encode('utf-8'))).all()
    assert frame['ppl'].to_numpy() == pytest.approx((frame['nll'] / frame['tokens']).map(math.exp).to_numpy(), rel=1e-9)
    assert frame['bpb'].to_numpy() == pytest.approx((frame['nll'] / math.log(2) / frame['bytes']).to_numpy(), rel=1e-9)
    # The intact rows equal evaluate_text on the saved model; the damaged ones differ and reach their sparsity.
    model = AutoModelForCausalLM.from_pretrained(tiny / 'mono')
    tokenizer = AutoTokenizer.from_pretrained(tiny / 'mono')
    intact = evaluate_text(model, tokenizer, text, 32, 16)
    mono = frame[(frame['model'] == 'monolingual') & (frame['checkpoint'] == 'final')]
    assert mono[mono['level'] == 0]['nll'].to_numpy() == pytest.approx(intact.nll, rel=1e-6)
    assert (mono[mono['level'] == 0]['tokens'] == intact.tokens).all()
    deleted = mono[(mono['kind'] == 'random_deletion') & (mono['level'] == 0.5)]
    assert deleted['sparsity'].to_numpy() == pytest.approx(0.5, abs=0.03)
    assert deleted['nll'].nunique() == 4 and not (deleted['nll'] == intact.nll).any()
    with perturbed(model, 'random_deletion', 0.5, scope='blocks', seed=1):  # repeat 1 = seed 0 + 1
        damaged = evaluate_text(model, tokenizer, text, 32, 16)
    row = deleted[(deleted['scope'] == 'blocks') & (deleted['repeat'] == 1)]
    assert row['nll'].item() == pytest.approx(damaged.nll, rel=1e-6)
    summary = json.loads((out / 'summary.json').read_text())
    assert set(summary['comparisons']) == {f'bilingual - monolingual | {k} | {s}' for k in
                                           ('random_deletion', 'magnitude_pruning', 'gaussian_noise') for s in ('attn', 'blocks')}
    entry = summary['comparisons']['bilingual - monolingual | random_deletion | blocks']
    assert entry['levels'] == [0.0, 0.5, 1.0] and entry['repeats'] == 2 and len(entry['retained_fraction_difference']) == 3
    # every model x kind x scope has its half-failure level, equal to one computed here from the CSV
    for name, half in summary['half_failure_level'].items():
        model, kind, scope = name.split(' | ')
        rows = frame[(frame['model'] == model) & (frame['kind'] == kind) & (frame['scope'] == scope)
                     & (frame['checkpoint'] == 'final')]
        curve = rows.groupby('level')['bpb'].mean()
        floor = floors[(floors['model'] == model) & (floors['scope'] == scope)]['bpb'].item()
        target = (curve.iloc[0] + floor) / 2
        sign = 1 if floor >= curve.iloc[0] else -1  # (an untrained tiny model can do better with no attention)
        above = [level for level, value in curve.items() if sign * (value - target) >= 0]
        if not above:
            assert half['level'] is None and not half['reached'] and 'not reached within the grid' in result.stdout
            continue
        upper = above[0]
        lower = max(level for level in curve.index if level < upper) if upper > 0 else upper
        expected = upper if upper == lower else lower + (upper - lower) * (target - curve[lower]) / (curve[upper] - curve[lower])
        assert half['level'] == pytest.approx(expected, abs=1e-12), name
    assert len(summary['half_failure_level']) == 2 * 3 * 2
    assert summary['comparisons']['bilingual - monolingual | random_deletion | attn']['half_failure_level']['a'] == \
        summary['half_failure_level']['bilingual | random_deletion | attn']['level']
    assert entry['training_seeds'] == [1, 1] and frame['train_seed'].isna().all()  # single models: train_seed empty
    # one model each and a deterministic kind: one measurement per level, so no test and no verdict
    pruned = summary['comparisons']['bilingual - monolingual | magnitude_pruning | blocks']
    assert pruned['test'] is None and pruned['ci'] is None and pruned['detectable'] is None
    intact_rows = frame[(frame['level'] == 0) & (frame['scope'] == 'blocks') & (frame['checkpoint'] == 'final')]
    ranged = all(floors[(floors['model'] == m) & (floors['scope'] == 'blocks')]['bpb'].item() >
                 intact_rows[intact_rows['model'] == m]['bpb'].iloc[0] for m in ('monolingual', 'bilingual'))
    assert pruned['verdict'] == ('no verdict: one trained model each and one draw: nothing varies' if ranged else
                                 'no verdict: intact at the floor: nothing to lose')
    assert pruned['verdict'] in result.stdout
    # one model each and a random kind: a paired test over the draws, which speaks for these two models only
    tested = [row for row in summary['comparisons'].values() if row['test'] is not None]
    assert tested and all(row['test']['unit'] == 'draws of these two trained models' and row['test']['df'] == 1
                          and row['verdict'].endswith('(these two trained models)') for row in tested)
    for name in ('gpt2_random_delete.png', 'gpt2_magnitude_deletion.png', 'gpt2_magnitude_deletion_models.png',
                 'gpt2_weight_noise.png'):
        assert (out / 'visuals' / name).stat().st_size > 10_000
    assert json.loads((out / 'config.json').read_text())['repeats'] == 2

    # Resume: a rerun with one more level measures only the new rows.
    more = run_main(monkeypatch, 'test_gpt2.py', *args[:-1], '--noise_levels=0,0.1,0.3')
    assert more.returncode == 0 and '8 of 8 trials' in more.stdout  # 2 models x 2 scopes x 2 repeats at 0.3
    assert len(pd.read_csv(out / 'perplexity.csv')) == len(frame) + 8


def test_family_folders_expand_into_their_training_seeds(tiny, tmp_path, monkeypatch):
    """A folder of seed_<s>/ models (train_bilingual_gpt2.py's layout) is evaluated seed by seed; the intervals then
    include the training seeds, and a deterministic kind gets a real interval from them."""
    text = ruth()
    for family, vocab in (('mono', 300), ('bi', 280)):
        for seed in (0, 1):
            save_tiny_model(tmp_path / family / f'seed_{seed}', text[:6000], seed=10 * seed + vocab, vocab_size=vocab,
                            steps=150)
    (tmp_path / 'mono' / 'tokenizer').mkdir()  # train_bilingual_gpt2.py keeps the shared tokenizer there: not a seed
    out = tmp_path / 'out'
    args = [f'--models=monolingual={tmp_path / "mono"},bilingual={tmp_path / "bi"},single={tiny / "mono"}',
            f'--eval_file={tiny / "eval.txt"}', '--max_length=32', '--stride=16', '--bootstrap=200', '--repeats=2',
            '--kinds=random_deletion,magnitude_pruning', '--scope=blocks', '--levels=0,0.5', '--checkpoints=False',
            '--compare=bilingual:monolingual,single:monolingual', f'--out_dir={out}', f'--visuals_dir={out / "v"}']
    result = run_main(monkeypatch, 'test_gpt2.py', *args)
    assert result.returncode == 0, result.stderr[-2000:]
    frame = pd.read_csv(out / 'perplexity.csv', dtype={'train_seed': str}, keep_default_na=False)
    assert frame.groupby('model')['train_seed'].apply(set).to_dict() == {'monolingual': {'0', '1'},
                                                                         'bilingual': {'0', '1'}, 'single': {''}}
    assert frame[frame.model == 'monolingual'].groupby('train_seed')['nll'].first().nunique() == 2  # two trainings
    summary = json.loads((out / 'summary.json').read_text())
    random = summary['comparisons']['bilingual - monolingual | random_deletion | blocks']
    assert random['training_seeds'] == [2, 2] and random['repeats'] == 2
    # the primary test, recomputed here: retained areas per training seed from the CSV, then scipy's Welch t test
    areas = {}
    for model in ('bilingual', 'monolingual'):
        rows = frame[(frame.model == model) & (frame.scope == 'blocks') & (frame.kind == 'random_deletion')]
        for seed, seed_rows in rows.groupby('train_seed'):
            curve = seed_rows.groupby('level')['bpb'].mean()  # levels 0, 0.5 and the floor at 1.0
            assert curve[1.0] > curve[0]  # trained: zeroing every block costs something
            lost = ((curve - curve[0]) / (curve[1.0] - curve[0])).clip(0, 1)
            areas.setdefault(model, []).append(((1 - lost[0]) + (1 - lost[0.5])) / 4 + ((1 - lost[0.5]) + (1 - lost[1.0])) / 4)
    assert random['retained_area_a'] == pytest.approx(areas['bilingual'], abs=1e-12)
    welch = scipy.stats.ttest_ind(areas['bilingual'], areas['monolingual'], equal_var=False)
    assert random['test']['p'] == pytest.approx(welch.pvalue, rel=1e-9)
    assert random['difference'] == pytest.approx(np.mean(areas['bilingual']) - np.mean(areas['monolingual']), abs=1e-12)
    assert random['test']['unit'] == 'training seeds' and random['detectable'] > 0
    assert all(ci is None or -1 <= ci[0] <= ci[1] <= 1 for ci in random['retained_fraction_difference_ci95'])
    assert random['retained_fraction_difference_ci95'][0] is None  # the intact level: nothing varies
    # Holm over the table's tested rows: the interval agrees with the verdict; a single model against a family has no
    # seed-to-seed spread of its own, so no test
    assert summary['answer']['comparisons'] == 2 and summary['answer']['rows'] == 4
    assert summary['comparisons']['single - monolingual | random_deletion | blocks']['verdict'] == \
        'no verdict: one side has a single training seed: its seed-to-seed spread is unknown'
    assert all(isinstance(row['verdict'], str) and row['verdict'] for row in summary['comparisons'].values())
    for row in (row for row in summary['comparisons'].values() if row['test']):
        low, high = row['ci']
        assert -1 <= low <= high <= 1 and (low > 0 or high < 0) == (row['outcome'] in ('higher', 'lower'))
    pruning = summary['comparisons']['bilingual - monolingual | magnitude_pruning | blocks']
    assert pruning['repeats'] == 1 and pruning['test']['unit'] == 'training seeds'  # tested over the seeds
    # how much the scope matters: the floor rows of the CSV against the intact rows, per training seed
    cost = summary['scope_cost']['monolingual']['blocks']
    mono = frame[frame.model == 'monolingual']
    zeroed = mono[(mono.kind == 'random_deletion') & (mono.level == 1.0)].sort_values('train_seed')
    intact = mono[mono.level == 0].groupby('train_seed')['bpb'].first()
    assert cost['train_seeds'] == ['0', '1'] and cost['zeroed'] == list(zeroed['bpb'])
    assert cost['ratio'] == pytest.approx([z / intact[seed] for z, seed in zip(zeroed['bpb'], zeroed['train_seed'])])
    assert 'difference in retained area' in result.stdout


def test_layers_reuse_equals_full_computation_and_overflow_is_recorded(tiny, tmp_path, monkeypatch):
    out = tmp_path / 'out'
    result = run_main(monkeypatch, 'test_gpt2.py', *common(tiny, out), '--kinds=random_deletion,gaussian_noise', '--scope=blocks',
                        '--layers=1', '--levels=0,0.3', '--noise_levels=0,1e30', '--repeats=1', '--checkpoints=False')
    assert result.returncode == 0, result.stderr[-2000:]
    frame = pd.read_csv(out / 'perplexity.csv')
    assert (frame['layers'].astype(str) == '1').all()
    model = AutoModelForCausalLM.from_pretrained(tiny / 'bi')
    tokenizer = AutoTokenizer.from_pretrained(tiny / 'bi')
    text = (tiny / 'eval.txt').read_text()
    with perturbed(model, 'random_deletion', 0.3, scope='blocks', seed=0, layers=[1]):
        full = evaluate_text(model, tokenizer, text, 32, 16)  # the whole model, no cached prefix
    row = frame[(frame['model'] == 'bilingual') & (frame['kind'] == 'random_deletion') & (frame['level'] == 0.3)]
    assert row['nll'].item() == pytest.approx(full.nll, rel=1e-6)
    exploded = frame[frame['level'] == 1e30]
    assert len(exploded) == 2 and not exploded['ppl'].map(math.isfinite).any()  # recorded, not crashed
    assert (out / 'visuals' / 'gpt2_weight_noise.png').exists()


@pytest.mark.parametrize('override,message', [
    ('--levels=0,1.5', 'levels: 1.5 is outside'),
    ('--kinds=dropout', "kinds: unknown value 'dropout'"),
    ('--scope=heads', "scope: unknown value 'heads'"),
    ('--models=monolingual=/nonexistent/model', 'models: model directory /nonexistent/model does not exist'),
    ('EMPTY', 'is empty'),
    ('--failure_fraction=1.5', 'failure_fraction: 1.5 must lie in (0, 1)'),
    ('--equivalence_margin=-0.1', 'equivalence_margin: -0.1 must lie in [0, 1)'),
    ('--equivalence_margin=1', 'equivalence_margin: 1.0 must lie in [0, 1)'),
    ('--kinds=head_deletion --scope=mlp', "head_deletion: no attention heads in scope mlp"),
    ('--kinds=nm_pruning --nm_group=3', 'nm_pruning: group 3 does not divide the 32 inputs of'),
    ('--kinds=wanda_pruning --calibration_file=/no/such.txt', 'calibration_file: /no/such.txt does not exist'),
])
def test_bad_input_is_one_line_error_before_any_work(tiny, tmp_path, monkeypatch, override, message):
    out = tmp_path / 'out'
    if override == 'EMPTY':
        (tmp_path / 'empty.txt').write_text('')
        override = f'--eval_file={tmp_path / "empty.txt"}'
    assert message in one_line_error(run_in_process(monkeypatch, 'test_gpt2.py', *common(tiny, out), *override.split()))
    assert not out.exists()


def test_structural_kinds_end_to_end(tiny, tmp_path, monkeypatch):
    """Head deletion, N:M and Wanda through the script: Wanda's calibration is the training text, not the evaluation
    text; a figure per kind."""
    out = tmp_path / 'out'
    (tmp_path / 'train.txt').write_text(ruth()[:6000])
    result = run_main(monkeypatch, 'test_gpt2.py', *common(tiny, out), '--kinds=head_deletion,nm_pruning,wanda_pruning',
                        '--scope=attn', '--levels=0,0.5,1', f'--calibration_file={tmp_path / "train.txt"}',
                        '--calibration_windows=4', '--checkpoints=False')
    assert result.returncode == 0, result.stderr[-2000:]
    frame = pd.read_csv(out / 'perplexity.csv')
    heads = frame[(frame['kind'] == 'head_deletion') & (frame['level'] == 1)]
    assert len(heads) == 2 * 2 and (heads['sparsity'] == 1).all()  # 2 models x 2 draws, every head gone
    nm = frame[(frame['kind'] == 'nm_pruning') & (frame['level'] == 0.5)]
    assert len(nm) == 2 and (nm['sparsity'] == 0.5).all()  # deterministic: one row
    wanda = frame[(frame['kind'] == 'wanda_pruning') & (frame['level'] == 0.5)]
    assert len(wanda) == 2 and wanda['sparsity'].between(0.49, 0.51).all()
    for name in ('gpt2_head_delete.png', 'gpt2_nm_pruning.png', 'gpt2_wanda_pruning.png'):
        assert (out / 'visuals' / name).stat().st_size > 10_000


def test_torchrun_splits_trials_into_one_csv(tiny, tmp_path):
    out = tmp_path / 'out'
    env = dict(os.environ, PYTHONUNBUFFERED='1', MPLBACKEND='Agg', OMP_NUM_THREADS='1', **OFFLINE)
    args = common(tiny, out) + ['--kinds=random_deletion', '--scope=attn', '--levels=0,0.2,0.4', '--checkpoints=False']
    result = subprocess.run([sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node=2',
                             os.path.join(ROOT, 'test_gpt2.py'), *args], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    # 2 models x (level 0 + 2 levels x 2 repeats + the floor at 1.0)
    assert 'rank 0: 6 of 12 trials' in result.stdout and 'rank 1: 6 of 12 trials' in result.stdout
    frame = pd.read_csv(out / 'perplexity.csv')
    assert len(frame) == 12 and not frame.duplicated(['model', 'level', 'repeat']).any()
    assert not list(out.glob('perplexity.part*.csv'))
    intact = frame[(frame['model'] == 'monolingual') & (frame['level'] == 0)]['nll'].item()
    model = AutoModelForCausalLM.from_pretrained(tiny / 'mono')
    text = (tiny / 'eval.txt').read_text()
    assert intact == pytest.approx(evaluate_text(model, AutoTokenizer.from_pretrained(tiny / 'mono'), text, 32, 16).nll, rel=1e-6)


def test_report_is_generated_from_the_summaries(tiny, tmp_path, monkeypatch):
    """robustness.report lays out every comparison of summary.json with the summary's own numbers, and rewrites the
    README's measured block from run.json."""
    results = tmp_path / 'results'
    out = results / 'test_gpt2'
    result = run_main(monkeypatch, 'test_gpt2.py', *common(tiny, out)[:3], f'--visuals_dir={tmp_path / "visuals"}',
                        '--max_length=32', '--stride=16', '--bootstrap=50', '--repeats=2', '--kinds=random_deletion',
                        '--scope=attn', '--levels=0,0.5', '--checkpoints=False')
    assert result.returncode == 0, result.stderr[-2000:]
    # a second design of the same script (make finetune's out_dir), with verdicts of its own
    other = results / 'test_gpt2_finetune'
    shutil.copytree(out, other)
    second = json.loads((other / 'summary.json').read_text())
    for entry in second['comparisons'].values():
        entry['verdict'] = 'the second design'
    (other / 'summary.json').write_text(json.dumps(second))
    readme = tmp_path / 'README.md'
    readme.write_text('# x\n\n<!-- measured:begin -->\nstale\n<!-- measured:end -->\n\nrest\n')
    report = subprocess.run([sys.executable, '-m', 'robustness.report', f'--results={results}',
                             f'--out={tmp_path / "visuals" / "README.md"}', f'--readme={readme}'], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert report.returncode == 0, report.stderr[-2000:]
    text = (tmp_path / 'visuals' / 'README.md').read_text()
    summary = json.loads((out / 'summary.json').read_text())
    run = json.loads((out / 'run.json').read_text())
    for name, entry in summary['comparisons'].items():
        row = next(line for line in text.splitlines() if line.startswith(f"| {name.replace('|', chr(92) + '|')} |"))
        assert entry['verdict'] in row and (entry['difference'] is None or f"{entry['difference']:+.4f}" in row)
        half = entry['half_failure_level']
        detail = text.split('description: half-failure')[1]
        detail_row = next(line for line in detail.splitlines() if line.startswith(f"| {name.replace('|', chr(92) + '|')} |"))
        assert (f"{half['a']:.3f}" if half['a'] is not None else 'not reached') in detail_row
    assert f"The table makes {summary['answer']['rows']} comparisons" in text.split('## test_gpt2.py')[1].splitlines()[2]  # the answer opens the section
    assert f"{run['seconds']:.0f} s" in text and '![gpt2_random_delete.png](gpt2_random_delete.png)' in text
    # provenance: the commit, whether the tree had changes, every pinned package's installed version, the device
    head = subprocess.run(['git', 'rev-parse', 'HEAD'], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    assert run['commit'] == head and isinstance(run['dirty'], bool) and f"commit `{head[:10]}`" in text
    pinned = [line.split('==')[0] for line in open(os.path.join(ROOT, 'requirements.txt')) if '==' in line]
    assert list(run['packages']) == pinned and run['packages']['transformers'] == importlib.metadata.version('transformers')
    assert run['device'] == 'cpu' if not torch.cuda.is_available() else run['device'].startswith('cuda (')
    designs = text.split('## The designs side by side')[1]
    for name, entry in summary['comparisons'].items():  # one row, a verdict from each design
        row = next(line for line in designs.splitlines() if line.startswith(f"| {name.replace('|', chr(92) + '|')} |"))
        assert row.index(entry['verdict']) < row.index('the second design')
    block = readme.read_text()
    assert 'stale' not in block and f"{run['seconds'] / 60:.1f} min" in block and block.endswith('rest\n')


def test_reanalysis_without_remeasuring(tiny, tmp_path, monkeypatch, capsys):
    """python -m robustness.analyze: the script's own summary.json from the CSV alone, then another pair and margin;
    a one-line error, and nothing written, for a folder without a CSV or config.json or a label the CSV lacks."""
    from robustness.analyze import main
    out = tmp_path / 'out'
    result = run_main(monkeypatch, 'test_gpt2.py', *common(tiny, out), '--kinds=random_deletion', '--scope=blocks',
                      '--levels=0,0.5', '--checkpoints=False')
    assert result.returncode == 0, result.stderr[-2000:]
    written = (out / 'summary.json').read_text()
    measured = json.loads((out / 'run.json').read_text())
    (out / 'summary.json').unlink()
    assert main([str(out)]) == 0 and (out / 'summary.json').read_text() == written  # the same, to the byte
    # run.json keeps the measurement's record, and says when the analysis was redone and which figures it drew
    redone = json.loads((out / 'run.json').read_text())
    assert {key: redone[key] for key in measured if key != 'figures'} == {k: v for k, v in measured.items() if k != 'figures'}
    assert set(redone['analysis']) == {'finished', 'commit', 'dirty'} and redone['figures'] == measured['figures']
    assert main([str(out), '--compare=monolingual:bilingual', '--equivalence_margin=0.2']) == 0
    summary = json.loads((out / 'summary.json').read_text())
    assert list(summary['comparisons']) == ['monolingual - bilingual | random_deletion | blocks']
    assert summary['equivalence_margin'] == 0.2 and summary['analysis_settings']['compare'] == ['monolingual:bilingual']
    assert json.loads((out / 'config.json').read_text())['compare'] == ['bilingual:monolingual', 'bilingual:control']
    before = (out / 'summary.json').read_text()
    capsys.readouterr()
    for args, message in (([str(out), '--compare=monolingual:nobody'], "compare: 'nobody' is not a model of perplexity.csv"),
                          ([str(out), '--equivalence_margin=-1'], 'equivalence_margin: -1.0 must lie in [0, 1)'),
                          ([str(tmp_path)], 'holds none of perplexity.csv, glue.csv, nonlinear.csv')):
        assert main(args) == 1
        error = capsys.readouterr().err
        assert error.count('\n') == 1 and error.startswith('error: ') and message in error, error
    assert (out / 'summary.json').read_text() == before  # nothing written
    (out / 'config.json').unlink()
    assert main([str(out)]) == 1 and 'has no config.json' in capsys.readouterr().err
    (tmp_path / 'trained').mkdir()
    (tmp_path / 'trained' / 'train_log.csv').write_text('model\n')
    assert main([str(tmp_path / 'trained')]) == 1 and "train_bilingual_gpt2.py's" in capsys.readouterr().err
