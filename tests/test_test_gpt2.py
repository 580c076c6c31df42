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
from robustness.analysis.schema import read_summary
from robustness.comparison import find
from robustness.perplexity import evaluate_text
from robustness.perturb import perturbed


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    """Two tiny GPT-2 models (the first with a step_150 training checkpoint) and a held-out text."""
    root = tmp_path_factory.mktemp('tiny')
    text = ruth()
    save_tiny_model(root / 'mono', text[:6000], seed=0, n_layer=2, steps=60)  # trained: not its untrained counterpart
    save_tiny_model(root / 'mono' / 'step_150', text[:6000], seed=3, n_layer=2, steps=20)
    save_tiny_model(root / 'bi', text[:6000], seed=1, n_layer=2, vocab_size=280, steps=60)
    held_out = [line.strip() for line in text[6000:7500].split('\n') if line.strip()]
    (root / 'eval.txt').write_text('\n'.join(held_out) + '\n')  # as the training script writes it
    return root


def common(tiny, out):
    return [f'--models=monolingual={tiny / "mono"},bilingual={tiny / "bi"}', f'--eval_files=en={tiny / "eval.txt"}',
            f'--out_dir={out}', f'--visuals_dir={out / "visuals"}', '--max_length=32', '--stride=16',
            '--bootstrap=50', '--repeats=2', '--lm_eval_tasks=']


def test_sweep_end_to_end_and_resume(tiny, tmp_path, monkeypatch):
    out = tmp_path / 'out'
    args = common(tiny, out) + ['--kinds=random_deletion,magnitude_pruning,gaussian_noise', '--scope=attn,blocks',
                                '--levels=0,0.5', '--noise_levels=0,0.1']
    result = run_script('test_gpt2.py', *args)
    assert result.returncode == 0, result.stderr[-2000:]
    frame = pd.read_csv(out / 'perplexity.csv')
    for column in 'model,checkpoint,text,kind,scope,level,repeat,nll,scored_tokens,bytes,ppl,bpb,sparsity'.split(','):
        assert column in frame.columns
    untrained = frame[frame['checkpoint'] == 'untrained']  # each model's untrained counterpart, intact, once
    assert len(untrained) == 2 and (untrained['level'] == 0).all()
    frame = frame[frame['checkpoint'] != 'untrained']
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
    assert frame['ppl'].to_numpy() == pytest.approx((frame['nll'] / frame['scored_tokens']).map(math.exp).to_numpy(), rel=1e-9)
    assert frame['bpb'].to_numpy() == pytest.approx((frame['nll'] / math.log(2) / frame['bytes']).to_numpy(), rel=1e-9)
    # The intact rows equal evaluate_text on the saved model; the damaged ones differ and reach their sparsity.
    model = AutoModelForCausalLM.from_pretrained(tiny / 'mono')
    tokenizer = AutoTokenizer.from_pretrained(tiny / 'mono')
    intact = evaluate_text(model, tokenizer, text, 32, 16)
    mono = frame[(frame['model'] == 'monolingual') & (frame['checkpoint'] == 'final')]
    assert mono[mono['level'] == 0]['nll'].to_numpy() == pytest.approx(intact.nll, rel=1e-6)
    assert (mono[mono['level'] == 0]['scored_tokens'] == intact.tokens).all()
    deleted = mono[(mono['kind'] == 'random_deletion') & (mono['level'] == 0.5)]
    assert deleted['sparsity'].to_numpy() == pytest.approx(0.5, abs=0.03)
    assert deleted['nll'].nunique() == 4 and not (deleted['nll'] == intact.nll).any()
    with perturbed(model, 'random_deletion', 0.5, scope='blocks', seed=1):  # repeat 1 = seed 0 + 1
        damaged = evaluate_text(model, tokenizer, text, 32, 16)
    row = deleted[(deleted['scope'] == 'blocks') & (deleted['repeat'] == 1)]
    assert row['nll'].item() == pytest.approx(damaged.nll, rel=1e-6)
    summary = read_summary(out / 'summary.json')
    assert {row.identity for row in summary['comparisons']} == {
        (None, 'bilingual', 'monolingual', k, s, None) for k in ('random_deletion', 'magnitude_pruning', 'gaussian_noise')
        for s in ('attn', 'blocks')}
    entry = find(summary['comparisons'], kind='random_deletion', scope='blocks').described
    assert entry['levels'] == [0.0, 0.5, 1.0] and entry['repeats'] == 2 and len(entry['retained_fraction_difference']) == 3
    # every model x kind x scope has its half-failure level, equal to one computed here from the CSV
    for half in summary['half_failure_level']:
        model, kind, scope = name = half['model'], half['kind'], half['scope']
        rows = frame[(frame['model'] == model) & (frame['kind'] == kind) & (frame['scope'] == scope)
                     & (frame['checkpoint'] == 'final')]
        curve = rows.groupby('level')['bpb'].mean()
        floor = floors[(floors['model'] == model) & (floors['scope'] == scope)]['bpb'].item()
        target = (curve.iloc[0] + floor) / 2
        sign = 1 if floor >= curve.iloc[0] else -1  # (an untrained tiny model can do better with no attention)
        above = [level for level, value in curve.items() if sign * (value - target) >= 0]
        if not above:
            assert half['level'] is None and not half['reached']
            continue
        upper = above[0]
        lower = max(level for level in curve.index if level < upper) if upper > 0 else upper
        expected = upper if upper == lower else lower + (upper - lower) * (target - curve[lower]) / (curve[upper] - curve[lower])
        assert half['level'] == pytest.approx(expected, abs=1e-12), name
    assert len(summary['half_failure_level']) == 2 * 3 * 2
    assert find(summary['comparisons'], kind='random_deletion', scope='attn').described['half_failure']['a'] == next(
        half['level'] for half in summary['half_failure_level']
        if (half['model'], half['kind'], half['scope']) == ('bilingual', 'random_deletion', 'attn'))
    assert entry['training_seeds'] == [1, 1] and frame['train_seed'].isna().all()  # single models: train_seed empty
    # one model each and a deterministic kind: one measurement per level, so no test and no verdict
    pruned = find(summary['comparisons'], kind='magnitude_pruning', scope='blocks')
    assert pruned.p is None and pruned.ci is None and pruned.detectable is None
    assert pruned.outcome == 'no verdict' and pruned.verdict.startswith('no verdict: ')
    # one model each and a random kind: a paired test over the draws, which speaks for these two models only
    tested = [row for row in summary['comparisons'] if row.p is not None]
    assert tested and all(row.tested_over == 'draws of these two trained models' and
                          row.measures[row.statistic]['test']['df'] == 1 for row in tested)
    assert all(row.verdict.endswith('(these two trained models)') for row in tested if row.outcome != 'no verdict')
    for name in ('gpt2_random_deletion.png', 'gpt2_magnitude_pruning.png', 'gpt2_magnitude_pruning_models.png',
                 'gpt2_gaussian_noise.png'):
        assert (out / 'visuals' / name).stat().st_size > 10_000
    assert json.loads((out / 'config.json').read_text())['repeats'] == 2

    # Resume: a rerun with one more level measures only the new rows.
    more = run_main(monkeypatch, 'test_gpt2.py', *args[:-1], '--noise_levels=0,0.1,0.3')
    assert more.returncode == 0
    assert len(pd.read_csv(out / 'perplexity.csv')) == len(frame) + 2 + 8  # 2 models x 2 scopes x 2 repeats at 0.3


def test_family_folders_expand_into_their_training_seeds(tiny, tmp_path, monkeypatch):
    """A folder of seed_<s>/ models (train_bilingual_gpt2.py's layout) is evaluated seed by seed; the intervals then
    include the training seeds. Every measure of a row, in both units, equals a hand computation from the CSV."""
    text = ruth()
    for family, vocab in (('mono', 300), ('bi', 280)):
        for seed in (0, 1):
            save_tiny_model(tmp_path / family / f'seed_{seed}', text[:6000], seed=10 * seed + vocab, vocab_size=vocab,
                            steps=150)
    (tmp_path / 'mono' / 'tokenizer').mkdir()  # train_bilingual_gpt2.py keeps the shared tokenizer there: not a seed
    out = tmp_path / 'out'
    args = [f'--models=monolingual={tmp_path / "mono"},bilingual={tmp_path / "bi"},single={tiny / "mono"}',
            f'--eval_files=en={tiny / "eval.txt"}', '--max_length=32', '--stride=16', '--bootstrap=200', '--repeats=2',
            '--kinds=random_deletion,magnitude_pruning', '--scope=blocks', '--levels=0,0.5', '--checkpoints=False',
            '--compare=bilingual:monolingual,single:monolingual', '--lm_eval_tasks=', f'--out_dir={out}',
            f'--visuals_dir={out / "v"}']
    result = run_main(monkeypatch, 'test_gpt2.py', *args)
    assert result.returncode == 0, result.stderr[-2000:]
    frame = pd.read_csv(out / 'perplexity.csv', dtype={'train_seed': str}, keep_default_na=False)
    assert frame.groupby('model')['train_seed'].apply(set).to_dict() == {'monolingual': {'0', '1'},
                                                                         'bilingual': {'0', '1'}, 'single': {''}}
    assert frame[frame.model == 'monolingual'].groupby('train_seed')['nll'].first().nunique() == 2  # two trainings
    summary = read_summary(out / 'summary.json')
    random = find(summary['comparisons'], a='bilingual', b='monolingual', kind='random_deletion', scope='blocks')
    assert random.described['training_seeds'] == [2, 2] and random.described['repeats'] == 2
    # every measure per training seed, recomputed here from the CSV in both units, then scipy's Welch t test
    final, untrained = frame[frame.checkpoint == 'final'], frame[frame.checkpoint == 'untrained']
    values = {}
    for model in ('bilingual', 'monolingual'):
        rows = final[(final.model == model) & (final.scope == 'blocks') & (final.kind == 'random_deletion')]
        for seed, seed_rows in rows.groupby('train_seed'):
            for unit, score in (('byte', seed_rows['bpb']), ('token', seed_rows['nll'] / seed_rows['scored_tokens'])):
                curve = score.groupby(seed_rows['level']).mean()  # levels 0, 0.5 and the floor at 1.0
                blank = untrained[(untrained.model == model) & (untrained.train_seed == seed)].iloc[0]
                floors = {'retained_area': curve[1.0], 'retained_area_untrained':
                          blank['bpb'] if unit == 'byte' else blank['nll'] / blank['scored_tokens']}
                mean = lambda y: ((y[0.0] + y[0.5]) / 4 + (y[0.5] + y[1.0]) / 4)  # trapezoid over 0, 0.5, 1, top 1
                for name, floor in floors.items():
                    kept = 1 - ((curve - curve[0]) / (floor - curve[0])).clip(0, 1)
                    values.setdefault((unit, name, model), []).append(mean(kept))
                values.setdefault((unit, 'mean_excess', model), []).append(mean(curve - curve[0]))
                values.setdefault((unit, 'mean_log_ratio', model), []).append(mean(np.log(curve / curve[0])))
    for unit, measures in (('byte', random.measures), ('token', random.other_unit['measures'])):
        for name, entry in measures.items():
            a, b = values[unit, name, 'bilingual'], values[unit, name, 'monolingual']
            assert entry['a'] == pytest.approx(a, rel=1e-9) and entry['b'] == pytest.approx(b, rel=1e-9), (unit, name)
            better = 1 if name.startswith('retained_area') else -1  # a loss: b - a says a is more robust
            welch = scipy.stats.ttest_ind(better * np.array(a), better * np.array(b), equal_var=False)
            assert entry['test']['p'] == pytest.approx(welch.pvalue, rel=1e-9)
            assert entry['test']['estimate'] == pytest.approx(better * (np.mean(a) - np.mean(b)), rel=1e-9)
    assert random.other_unit['unit'] == 'token' and random.other_unit['comparable'] is False  # two tokenizers
    # the row: a direction only where every decisive measure finds it; its p the largest one-sided p of the
    # decisive measures (LM_DECISIVE: the own-floor retained area is reported, not decisive), doubled
    assert random.decided_by == ('retained_area_untrained', 'mean_excess', 'mean_log_ratio')
    one_sided = [[scipy.stats.t.sf(e['test']['estimate'] / e['test']['se'], e['test']['df']),
                  scipy.stats.t.cdf(e['test']['estimate'] / e['test']['se'], e['test']['df'])]
                 for e in (random.measures[name] for name in random.decided_by)]
    assert random.p == pytest.approx(min(1, 2 * min(max(p[0] for p in one_sided), max(p[1] for p in one_sided))))
    headline = random.measures['retained_area_untrained']
    assert random.statistic == 'retained_area_untrained' and random.estimate == headline['test']['estimate']
    assert random.tested_over == 'training seeds' and random.detectable > 0
    powers = random.rule_power  # the whole rule's power at each stated difference: rising with the difference
    assert list(powers) == ['0.025', '0.05', '0.1'] and 0 <= powers['0.025'] <= powers['0.05'] <= powers['0.1'] <= 1
    tested = [row.rule_power['0.1'] for row in summary['comparisons'] if row.rule_power]
    assert summary['answer']['rule_power']['0.1']['median'] == pytest.approx(np.median(tested))
    assert all(ci is None or -1 <= ci[0] <= ci[1] <= 1 for ci in random.described['retained_fraction_difference_ci95'])
    # Holm over the table's tested rows; a single model against a family has no seed-to-seed spread of its own
    assert summary['answer']['comparisons'] == 2 and summary['answer']['rows'] == 4
    assert find(summary['comparisons'], a='single', kind='random_deletion', scope='blocks').verdict == \
        'no verdict: one side has a single training seed: its seed-to-seed spread is unknown'
    for row in summary['comparisons']:
        assert row.outcome in ('higher', 'lower', 'equivalent', 'within the margin', 'depends on the measure',
                               'inconclusive', 'no verdict') and row.verdict
        if row.p is not None:
            signs = {e['sign'] for m, e in row.measures.items() if m in row.decided_by}
            assert (row.outcome in ('higher', 'lower', 'within the margin')) == (signs in ({'+'}, {'-'}))
    # what the answer rests on: the bytes per token of each tokenizer, from the CSV
    intact = final[(final.model == 'bilingual') & (final.level == 0)]
    assert summary['facts']['models']['bilingual']['bytes_per_token'] == pytest.approx(
        (intact['bytes'] / intact['scored_tokens']).groupby(intact['train_seed']).first().mean())
    assert summary['facts']['pairs']['bilingual - monolingual']['same_tokenizer'] is False
    # how much the scope matters: the floor rows of the CSV against the intact rows, per training seed
    cost = summary['scope_cost']['monolingual']['blocks']
    mono = final[final.model == 'monolingual']
    zeroed = mono[(mono.kind == 'random_deletion') & (mono.level == 1.0)].sort_values('train_seed')
    intact = mono[mono.level == 0].groupby('train_seed')['bpb'].first()
    assert cost['train_seeds'] == ['0', '1'] and cost['zeroed'] == list(zeroed['bpb'])
    assert cost['ratio'] == pytest.approx([z / intact[seed] for z, seed in zip(zeroed['bpb'], zeroed['train_seed'])])
    # per token across two tokenizers decides nothing: a one-line error at the analysis
    from robustness.analyze import main
    assert main([str(out), '--unit=token']) == 1


def test_matched_quality_against_annealed_models(tmp_path, monkeypatch):
    """`annealed`: the reference's recipe run to shorter budgets (here 10 and 30 steps against 150) stands in for its
    checkpoints, so that matched quality compares annealed with annealed: each seed of the reference interpolated
    between the two budgets whose intact bpb bracket the bilingual model's, and the report says where the tables
    agree."""
    text = ruth()
    for seed in (0, 1):
        for name, steps in (('mono_10', 10), ('mono_30', 30), ('mono', 150)):
            save_tiny_model(tmp_path / name / f'seed_{seed}', text[:6000], seed=seed, steps=steps)
        save_tiny_model(tmp_path / 'bi' / f'seed_{seed}', text[:6000], seed=seed + 7, steps=60)
    (tmp_path / 'en.txt').write_text(text[6000:8000])
    out = tmp_path / 'out'
    models = ','.join(f'{name}={tmp_path / folder}' for name, folder in (
        ('monolingual', 'mono'), ('bilingual', 'bi'), ('mono_10', 'mono_10'), ('mono_30', 'mono_30')))
    result = run_main(monkeypatch, 'test_gpt2.py', f'--models={models}', f'--eval_files=en={tmp_path / "en.txt"}',
                      '--kinds=random_deletion', '--scope=attn', '--levels=0,0.5,1', '--repeats=2', '--checkpoints=False',
                      '--max_length=32', '--bootstrap=50', '--lm_eval_tasks=', '--compare=bilingual:monolingual',
                      '--annealed=monolingual:mono_10:mono_30', f'--out_dir={out}',
                      f'--visuals_dir={out / "v"}')
    assert result.returncode == 0, result.stderr[-3000:]
    summary = read_summary(out / 'summary.json')
    row = find(summary['matched_quality_annealed'], a='bilingual', b='monolingual', kind='random_deletion', scope='attn')
    assert row.design == 'matched quality against annealed models'
    frame = pd.read_csv(out / 'perplexity.csv', dtype={'train_seed': str}, keep_default_na=False)
    intact = frame[(frame.level == 0) & (frame.checkpoint == 'final')].groupby(['model', 'train_seed'])['bpb'].first()
    target = intact['bilingual'].mean()
    assert row.described['target_bpb'] == pytest.approx(target)
    for seed, bracket in row.described['brackets'].items():
        quality = {'mono_10': intact['mono_10', seed], 'mono_30': intact['mono_30', seed],
                   'final': intact['monolingual', seed]}
        first, second, weight = quality[bracket['first']], quality[bracket['second']], bracket['weight']
        assert first >= target >= second and (1 - weight) * first + weight * second == pytest.approx(target)
    assert not summary['matched_quality'] and summary['matched_agreement'] == []  # no checkpoints swept
    from robustness.analysis.test_gpt2_report import render as gpt2_section
    section = gpt2_section(summary)
    assert '### At matched intact quality against annealed models' in section
    assert 'No row is decided in both matched-quality tables.' in section


def test_two_texts_untrained_models_and_matched_quality(tmp_path, monkeypatch):
    """Labelled texts (English and Ukrainian): the second on the final bilingual model only (the pairs' first); each
    model's untrained counterpart on its texts; the checkpoints of the reference model that bracket the other's
    intact quality swept with every kind, and a row per comparison at matched quality (a pair that no checkpoint
    brackets says so); the second-language rows of the bilingual model; the frontier and second-language figures."""
    from robustness import corpora
    text = ruth()
    for seed in (0, 1):  # one tokenizer (the same text and vocabulary): the quality of checkpoints is comparable
        for name, steps in (('step_10', 10), ('step_30', 30), ('', 150)):
            save_tiny_model(tmp_path / 'mono' / f'seed_{seed}' / name, text[:6000], seed=seed, steps=steps)
        save_tiny_model(tmp_path / 'bi' / f'seed_{seed}', text[:6000], seed=seed + 7, steps=60)
        save_tiny_model(tmp_path / 'other' / f'seed_{seed}', text[:6000], seed=seed + 9, steps=5)
    (tmp_path / 'uk.txt').write_text(corpora.held_out_text(corpora.ukrainian_verses(), books={8})[:2000])
    (tmp_path / 'en.txt').write_text(corpora.held_out_text(corpora.english_verses(), books={8})[:2000])
    out = tmp_path / 'out'
    result = run_main(monkeypatch, 'test_gpt2.py', f'--models=monolingual={tmp_path / "mono"},bilingual={tmp_path / "bi"},'
                      f'control={tmp_path / "other"}', f'--eval_files=en={tmp_path / "en.txt"},uk={tmp_path / "uk.txt"}',
                      '--kinds=random_deletion,magnitude_pruning', '--scope=attn', '--levels=0,0.5,1', '--repeats=2',
                      '--checkpoint_kinds=', '--max_length=32', '--bootstrap=50', '--lm_eval_tasks=',
                      '--compare=bilingual:monolingual,bilingual:control', f'--out_dir={out}', f'--visuals_dir={out / "v"}')
    assert result.returncode == 0, result.stderr[-3000:]
    frame = pd.read_csv(out / 'perplexity.csv', dtype={'train_seed': str}, keep_default_na=False)
    assert set(frame[frame.text == 'uk'].checkpoint) == {'final', 'untrained'}
    # the second text only on the pairs' first model (the analysis reads no other model's); English on all three
    assert set(frame[frame.text == 'uk'].model) == {'bilingual'}
    assert set(frame[frame.text == 'en'].model) == {'monolingual', 'bilingual', 'control'}
    summary = read_summary(out / 'summary.json')
    # matched quality: the monolingual seeds bracket the bilingual model's quality between two of their checkpoints
    intact = frame[(frame.text == 'en') & (frame.level == 0) & (frame.checkpoint != 'untrained')]
    target = intact[(intact.model == 'bilingual') & (intact.checkpoint == 'final')].groupby('train_seed')['bpb'].first().mean()
    row = find(summary['matched_quality'], a='bilingual', b='monolingual', kind='random_deletion', scope='attn')
    assert row.design == 'matched quality' and row.described['target_bpb'] == pytest.approx(target)
    for seed, bracket in row.described['brackets'].items():
        quality = intact[(intact.model == 'monolingual') & (intact.train_seed == seed)].groupby('checkpoint')['bpb'].first()
        first, second, weight = quality[bracket['first']], quality[bracket['second']], bracket['weight']
        assert first >= target >= second and (1 - weight) * first + weight * second == pytest.approx(target)
        swept = frame[(frame.model == 'monolingual') & (frame.train_seed == seed) & (frame.kind == 'random_deletion')]
        assert {bracket['first'], bracket['second']} <= set(swept.checkpoint)  # every kind on both
    assert row.outcome and row.verdict and row.statistic and row.measures
    control = find(summary['matched_quality'], a='bilingual', b='control', kind='random_deletion', scope='attn')
    assert control.outcome == 'no verdict' and 'not bracketed' in control.verdict
    # the second language: the bilingual model's English against its Ukrainian, paired over its training seeds,
    # described (plain intervals) and never decided: bits per byte of two scripts are not comparable
    language = find(summary['second_language'], model='bilingual', a='en', b='uk', kind='random_deletion', scope='attn')
    assert language.design == 'second language' and language.outcome == 'no verdict'
    assert language.p is None and 'not comparable' in language.verdict
    assert language.measures['mean_excess']['test']['over'] == 'training seeds (paired)'
    (kept,) = [entry for entry in summary['both_languages']
               if (entry['model'], entry['kind'], entry['scope']) == ('bilingual', 'random_deletion', 'attn')]
    assert kept['retained_area'] is None or 0 <= kept['retained_area'] <= 1  # None: no range over both (these models
    # never saw Ukrainian)
    for name in ('gpt2_matched_quality.png', 'gpt2_second_language.png'):
        assert (out / 'v' / name).stat().st_size > 10_000
    # a pair whose final models lie within matched_tolerance of each other is matched already: the final models
    from robustness.analyze import main
    final_bpb = frame[(frame.text == 'en') & (frame.checkpoint == 'final') & (frame.level == 0)].groupby('model')['bpb'].mean()
    apart = abs(final_bpb['control'] - final_bpb['bilingual']) / final_bpb['bilingual']
    tolerance = min(0.99, apart * 1.01)
    assert main([str(out), f'--relative_margin={tolerance}', f'--matched_tolerance={tolerance}']) == 0
    redone = read_summary(out / 'summary.json')
    control = find(redone['matched_quality'], a='bilingual', b='control', kind='random_deletion', scope='attn')
    assert control.design.startswith('matched quality: the final models')
    assert control.p == find(redone['comparisons'], a='bilingual', b='control', kind='random_deletion', scope='attn').p
    assert main([str(out), '--matched_tolerance=0']) == 1  # a one-line error, nothing written
    assert read_summary(out / 'summary.json') == redone


@pytest.fixture
def task_folder(tmp_path, monkeypatch):
    """A folder to run from with the offline tasks (their YAMLs, data built by tasks/build_tasks.py) and a
    multiple-choice task of the tiny models' own training text: the last word of a verse of Ruth."""
    import random
    shutil.copytree(os.path.join(ROOT, 'tasks'), tmp_path / 'tasks', ignore=shutil.ignore_patterns('data'))
    built = subprocess.run([sys.executable, os.path.join(ROOT, 'tasks', 'build_tasks.py'), '--eval_chars=2000',
                            '--choices_docs=20', f'--out_dir={tmp_path / "tasks" / "data"}'], capture_output=True,
                           text=True, env=dict(os.environ, **OFFLINE))
    assert built.returncode == 0, built.stderr
    from robustness.corpora import english_verses
    verses = [text.split() for v, text in english_verses().items() if v // 1_000_000 == 8 and len(text.split()) > 8]
    endings, rng = sorted({words[-1] for words in verses}), random.Random(0)
    with open(tmp_path / 'tasks' / 'data' / 'ruth.jsonl', 'w') as f:
        for words in verses[:30]:
            choices = rng.sample([e for e in endings if e != words[-1]], 3) + [words[-1]]
            rng.shuffle(choices)
            f.write(json.dumps({'context': ' '.join(words[:-1]), 'choices': choices, 'gold': choices.index(words[-1])}) + '\n')
    (tmp_path / 'tasks' / 'ruth.yaml').write_text(
        (tmp_path / 'tasks' / 'bible_last_word_en.yaml').read_text().replace('bible_last_word_en', 'ruth'))
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.numeric
def test_lm_eval_tasks_saved_damage_and_resume(task_folder, monkeypatch):
    """lm-eval's tasks inside each trial (tasks.csv): the intact model's bits per byte equal an lm-eval call made
    here, and so do both tasks' scores with every block zeroed; a rerun repeats no row; the damaged model saved
    inside its trial reloads with the trial's sparsity and bits per byte."""
    from lm_eval.evaluator import evaluate
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager
    tiny = task_folder / 'models'  # two tiny models trained on the book of the multiple-choice task
    verses = '\n'.join(json.loads(line)['context'] for line in open(task_folder / 'tasks' / 'data' / 'ruth.jsonl'))
    save_tiny_model(tiny / 'mono', ruth(), seed=0, steps=60)
    save_tiny_model(tiny / 'bi', ruth(), seed=1, steps=60)
    (tiny / 'eval.txt').write_text(verses + '\n')  # as the training script writes a text: a line end after each
    out = task_folder / 'out'
    args = [*common(tiny, out)[:-1], '--lm_eval_tasks=bible_bpb_en,ruth', '--lm_eval_include=tasks',
            '--kinds=random_deletion,magnitude_pruning', '--scope=blocks', '--levels=0,0.5,1', '--checkpoints=False',
            '--save_damaged=random_deletion:blocks:0.5:1', '--lm_eval_kinds=magnitude_pruning']
    result = run_main(monkeypatch, 'test_gpt2.py', *args)
    assert result.returncode == 0, result.stderr[-3000:]
    tasks = pd.read_csv(out / 'tasks.csv', dtype={'train_seed': str}, keep_default_na=False)
    assert list(tasks.columns[:12]) == ['model', 'train_seed', 'checkpoint', 'kind', 'scope', 'layers', 'level',
                                        'repeat', 'task', 'metric', 'value', 'stderr']
    # the intact model's bits per byte: an lm-eval call made here, on the same model, tokenizer and window
    model = AutoModelForCausalLM.from_pretrained(tiny / 'mono').eval()
    lm = HFLM(pretrained=model, tokenizer=AutoTokenizer.from_pretrained(tiny / 'mono'), max_length=32, batch_size=32,
              device='cpu', prefix_token_id=model.config.bos_token_id)  # the tiny tokenizer has no special tokens
    loaded = TaskManager(include_path='tasks', include_defaults=False).load(['bible_bpb_en'])
    expected = evaluate(lm=lm, task_dict=loaded, bootstrap_iters=0)['results']['bible_bpb_en']['bits_per_byte,none']
    # (the intact score is measured under random deletion's level 0, the first kind, and serves magnitude pruning's)
    intact = tasks[(tasks.model == 'monolingual') & (tasks.checkpoint == 'final') & (tasks.level == 0) &
                   (tasks.kind == 'magnitude_pruning') & (tasks.task == 'bible_bpb_en')]['value']
    assert len(intact) == 1 and intact.item() == pytest.approx(expected, rel=1e-9)
    # every block zeroed (magnitude pruning at 1): each task's score is an lm-eval call made here on weights this test
    # zeroed itself, for any weights (a tiny model's accuracy sits near chance, where the CPU's rounding decides which
    # side it lands on, so no test asks whether it fell)
    with torch.no_grad():
        for name, weight in model.named_parameters():
            if name.startswith('transformer.h.'):
                weight.zero_()
    loaded = TaskManager(include_path='tasks', include_defaults=False).load(['bible_bpb_en', 'ruth'])
    zeroed = evaluate(lm=lm, task_dict=loaded, bootstrap_iters=0)['results']
    floor = tasks[(tasks.model == 'monolingual') & (tasks.checkpoint == 'final') & (tasks.level == 1) &
                  (tasks.kind == 'magnitude_pruning')].set_index(['task', 'metric'])['value']
    assert floor['bible_bpb_en', 'bits_per_byte'] == pytest.approx(zeroed['bible_bpb_en']['bits_per_byte,none'], rel=1e-9)
    assert floor['ruth', 'acc'] == pytest.approx(zeroed['ruth']['acc,none'], abs=1e-12)
    assert floor['bible_bpb_en', 'bits_per_byte'] != pytest.approx(intact.item(), rel=1e-6)  # the damage reached it
    summary = read_summary(out / 'summary.json')
    (accuracy,) = [table for table in summary['tasks'] if (table['task'], table['metric']) == ('ruth', 'acc')]
    assert accuracy['chance'] == pytest.approx(0.25)
    # a verdict per kind whose trials ran the tasks; random deletion's intact and floor rows make no curve of their own
    assert {row.kind for row in accuracy['comparisons']} == {'magnitude_pruning'}
    assert (out / 'lm_eval' / 'monolingual.json').exists() and (out / 'visuals' / 'gpt2_task_ruth_acc.png').exists()
    # a rerun measures nothing and repeats no row
    again = run_main(monkeypatch, 'test_gpt2.py', *args)
    assert again.returncode == 0, again.stderr[-2000:]
    after = pd.read_csv(out / 'tasks.csv', dtype={'train_seed': str}, keep_default_na=False)
    assert len(after) == len(tasks) and not after.duplicated(['model', 'train_seed', 'checkpoint', 'kind', 'scope',
                                                              'layers', 'level', 'repeat', 'task', 'metric']).any()
    # the damaged model, saved as measured: its sparsity and bits per byte are the trial's
    frame = pd.read_csv(out / 'perplexity.csv')
    row = frame[(frame.model == 'bilingual') & (frame.checkpoint == 'final') & (frame.kind == 'random_deletion') &
                (frame.level == 0.5) & (frame.repeat == 1) & (frame.scope == 'blocks')]
    folder = out / 'damaged' / 'bilingual' / 'random_deletion_blocks_0.5_1'
    saved = AutoModelForCausalLM.from_pretrained(folder)
    from robustness.scopes import scoped_parameters
    weights = [w for _, w in scoped_parameters(saved, 'blocks')]
    assert sum(int((w == 0).sum()) for w in weights) / sum(w.numel() for w in weights) == row['sparsity'].item()
    text = (tiny / 'eval.txt').read_text()
    assert evaluate_text(saved, AutoTokenizer.from_pretrained(folder), text, 32, 16).bpb == pytest.approx(row['bpb'].item(), rel=1e-9)
    damage = json.loads((folder / 'damage.json').read_text())
    assert (damage['kind'], damage['level'], damage['repeat'], damage['damage_seed']) == ('random_deletion', 0.5, 1, 1)
    assert damage['bpb']['en'] == pytest.approx(row['bpb'].item(), rel=1e-12)


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
    assert (out / 'visuals' / 'gpt2_gaussian_noise.png').exists()


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
    for name in ('gpt2_head_deletion.png', 'gpt2_nm_pruning.png', 'gpt2_wanda_pruning.png'):
        assert (out / 'visuals' / name).stat().st_size > 10_000


def test_torchrun_splits_trials_into_one_csv(tiny, tmp_path):
    out = tmp_path / 'out'
    env = dict(os.environ, PYTHONUNBUFFERED='1', MPLBACKEND='Agg', OMP_NUM_THREADS='1', **OFFLINE)
    args = common(tiny, out) + ['--kinds=random_deletion', '--scope=attn', '--levels=0,0.2,0.4', '--checkpoints=False']
    result = subprocess.run([sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node=2',
                             os.path.join(ROOT, 'test_gpt2.py'), *args], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    # 2 models x (level 0 + 2 levels x 2 repeats + the floor at 1.0, and the untrained counterpart)
    frame = pd.read_csv(out / 'perplexity.csv')
    assert len(frame) == 14 and not frame.duplicated(['model', 'checkpoint', 'level', 'repeat']).any()
    assert not list(out.glob('perplexity.part*.csv'))
    intact = frame[(frame['model'] == 'monolingual') & (frame['level'] == 0) & (frame['checkpoint'] == 'final')]['nll'].item()
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
                        '--scope=attn', '--levels=0,0.5', '--checkpoints=False', '--lm_eval_tasks=')
    assert result.returncode == 0, result.stderr[-2000:]
    # a second design of the same script (make finetune's out_dir), with verdicts of its own
    other = results / 'test_gpt2_finetune'
    shutil.copytree(out, other)
    second = json.loads((other / 'summary.json').read_text())
    for entry in second['comparisons']:
        entry['verdict'] = 'the second design'
    (other / 'summary.json').write_text(json.dumps(second))
    readme = tmp_path / 'README.md'
    readme.write_text('# x\n\n<!-- measured:begin -->\nstale\n<!-- measured:end -->\n\nrest\n')
    report = subprocess.run([sys.executable, '-m', 'robustness.report', f'--results={results}',
                             f'--out={tmp_path / "visuals" / "README.md"}', f'--readme={readme}'], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert report.returncode == 0, report.stderr[-2000:]
    text = (tmp_path / 'visuals' / 'README.md').read_text()
    summary = read_summary(out / 'summary.json')
    run = json.loads((out / 'run.json').read_text())
    for entry in summary['comparisons']:
        name = f'{entry.a} - {entry.b} | {entry.kind} | {entry.scope}'  # as the report shows it
        row = next(line for line in text.splitlines() if line.startswith(f"| {name.replace('|', chr(92) + '|')} |"))
        assert entry.verdict in row
        area = entry.measures['retained_area']
        assert area['test'] is None or f"{area['test']['estimate']:+.3f}" in row
        half = entry.described['half_failure']
        detail = text.split('description: half-failure')[1]
        detail_row = next(line for line in detail.splitlines() if line.startswith(f"| {name.replace('|', chr(92) + '|')} |"))
        assert (f"{half['a']:.3f}" if half['a'] is not None else 'not reached') in detail_row
    assert f"The table makes {summary['answer']['rows']} comparisons" in text.split('## test_gpt2.py')[1].splitlines()[2]  # the answer opens the section
    assert f"{run['seconds']:.0f} s" in text and '![gpt2_random_deletion.png](gpt2_random_deletion.png)' in text
    # provenance: the commit, whether the tree had changes, every pinned package's installed version, the device
    head = subprocess.run(['git', 'rev-parse', 'HEAD'], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    assert run['commit'] == head and isinstance(run['dirty'], bool) and f"commit `{head[:10]}`" in text
    pinned = [line.split('==')[0] for line in open(os.path.join(ROOT, 'requirements.txt')) if '==' in line]
    assert list(run['packages']) == pinned and run['packages']['transformers'] == importlib.metadata.version('transformers')
    assert run['device'] == 'cpu' if not torch.cuda.is_available() else run['device'].startswith('cuda (')
    designs = text.split('## The designs side by side')[1]
    for entry in summary['comparisons']:  # one row, a verdict from each design
        row = next(line for line in designs.splitlines() if line.startswith(f"| {entry.label.replace('|', chr(92) + '|')} |"))
        assert row.index(entry.verdict) < row.index('the second design')
    block = readme.read_text()
    assert 'stale' not in block and f"{run['seconds'] / 60:.1f} min" in block and block.endswith('rest\n')
    # a figure that another run has overwritten since: an error naming it and the run, and no report written
    figure = tmp_path / 'visuals' / 'gpt2_random_deletion.png'
    assert f"<!-- sha256 {run['figures'][str(figure)]} -->" in text
    figure.write_bytes(figure.read_bytes() + b'another run')
    (tmp_path / 'visuals' / 'README.md').unlink()
    stale = subprocess.run([sys.executable, '-m', 'robustness.report', f'--results={results}',
                            f'--out={tmp_path / "visuals" / "README.md"}', '--readme='], cwd=ROOT,
                           capture_output=True, text=True, timeout=120)
    assert stale.returncode == 1 and len(stale.stderr.strip().splitlines()) == 1, stale.stderr[-2000:]
    assert str(figure) in stale.stderr and str(out) in stale.stderr and 'overwritten' in stale.stderr
    assert not (tmp_path / 'visuals' / 'README.md').exists()


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
    summary = read_summary(out / 'summary.json')
    assert [row.identity for row in summary['comparisons']] == [(None, 'monolingual', 'bilingual', 'random_deletion',
                                                                 'blocks', None)]
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


def test_the_offline_tasks_build_their_data_on_first_use(tmp_path, monkeypatch, capsys):
    """A fresh clone has no tasks/data: the offline tasks build theirs when first loaded, as tasks/build_tasks.py
    does by hand; a folder of YAMLs without a builder still gets the one-line error."""
    from robustness.config import ConfigError
    from robustness.harness import load_tasks
    shutil.copytree(os.path.join(ROOT, 'tasks'), tmp_path / 'tasks', ignore=shutil.ignore_patterns('data'))
    monkeypatch.chdir(tmp_path)
    loaded = load_tasks(['bible_bpb_en', 'bible_last_word_en'], 'tasks')
    assert set(loaded['tasks']) == {'bible_bpb_en', 'bible_last_word_en'} and 'building' in capsys.readouterr().out
    by_hand = subprocess.run([sys.executable, os.path.join(ROOT, 'tasks', 'build_tasks.py'), f'--out_dir={tmp_path / "ref"}'],
                             capture_output=True, text=True, env=dict(os.environ, **OFFLINE))
    assert by_hand.returncode == 0, by_hand.stderr
    for name in ('bible_bpb_en', 'bible_bpb_uk', 'bible_last_word_en'):
        assert (tmp_path / 'tasks' / 'data' / f'{name}.jsonl').read_bytes() == (tmp_path / 'ref' / f'{name}.jsonl').read_bytes()
    (tmp_path / 'tasks' / 'build_tasks.py').unlink()
    shutil.rmtree(tmp_path / 'tasks' / 'data')
    with pytest.raises(ConfigError, match='bible_bpb_en reads tasks/data/bible_bpb_en.jsonl, which does not exist'):
        load_tasks(['bible_bpb_en'], 'tasks')


def test_outputs_say_only_what_the_run_did_and_the_confirmatory_family(tiny, tmp_path, monkeypatch):
    """Without matched-quality trials there is no matched-quality table; the questions name the models as the run
    names them; the rows declared in `confirmatory` get Holm over themselves alone, and the table keeps them."""
    out = tmp_path / 'out'
    args = [f'--models=a={tiny / "mono"},b={tiny / "bi"}', '--compare=b:a', *common(tiny, out)[1:],
            '--kinds=random_deletion', '--scope=attn,blocks', '--levels=0,0.05,0.1', '--matched_quality=False',
            '--confirmatory=b:a:random_deletion:attn']
    result = run_main(monkeypatch, 'test_gpt2.py', *args)
    assert result.returncode == 0, result.stderr[-2000:]
    summary = read_summary(out / 'summary.json')
    assert summary['matched_quality'] == [] and 'matched' not in result.stdout.lower()
    assert '(b than a)' in summary['answer']['question'] and 'bilingual' not in summary['answer']['question']
    declared = dict(a='b', b='a', kind='random_deletion', scope='attn')
    assert len(summary['confirmatory']) == 1 and summary['confirmatory_answer']['comparisons'] == 1
    alone, among = summary['confirmatory'][0], find(summary['comparisons'], **declared)
    assert alone == find(summary['confirmatory'], **declared) and alone.label == 'b - a | random_deletion | attn'
    assert alone.p == among.p and alone.holm_level == 0.05  # one row: Holm is the plain 5%
    assert summary['answer']['comparisons'] == 2 and among.holm_level in (0.025, 0.05)  # Holm over both rows
    # a row the run does not sweep: a one-line error before any work
    stopped = run_in_process(monkeypatch, 'test_gpt2.py', *args[:-1], '--confirmatory=b:a:head_deletion:attn')
    assert one_line_error(stopped).startswith("error: confirmatory: 'b:a:head_deletion:attn' names the kind")
