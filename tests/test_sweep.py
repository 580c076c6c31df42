"""robustness/sweep.py: the trial grid, one row where two kinds give the same masks, resume, level-0 reuse, options
that reach their kind, rank sharding."""

import pandas as pd
import pytest
import torch

from conftest import gpt2, small_resnet_net
from robustness.perturb import perturbed
from robustness.results import Table
from robustness.runtime import Runtime
from robustness.scopes import scoped_parameters
from robustness.sweep import Trial, merge_parts, mine, open_log, pending, run_trials, trial_grid

TABLE = Table('x.csv', ('model', 'kind', 'scope', 'layers', 'level', 'repeat', 'value'),
              key=('model', 'kind', 'scope', 'layers', 'level', 'repeat'))
GRIDS = {'levels': [0.0, 0.5, 1.0], 'noise_levels': [0.0, 0.1]}


def test_grid_measures_deterministic_kinds_and_level_zero_once():
    grid = trial_grid(['random_deletion', 'magnitude_pruning', 'gaussian_noise', 'nm_pruning'], ['attn'], ['all'],
                      GRIDS, repeats=3)
    count = lambda kind, level: sum(1 for t in grid if t.kind == kind and t.level == level)
    assert [count('random_deletion', level) for level in (0, 0.5, 1)] == [1, 3, 1]  # 1.0 zeroes all: one draw
    assert [count('magnitude_pruning', level) for level in (0, 0.5, 1)] == [1, 1, 1]
    assert [count('nm_pruning', level) for level in (0, 0.5, 1)] == [1, 1, 1]
    assert [count('gaussian_noise', level) for level in (0, 0.1)] == [1, 3]  # noise takes noise_levels
    assert len(set(grid)) == len(grid)
    floored = trial_grid(['gaussian_noise'], ['attn', 'mlp'], ['all'], GRIDS, repeats=3, floors=['attn', 'mlp'])
    assert [t for t in floored if t.kind == 'random_deletion'] == [Trial('random_deletion', s, 'all', 1.0, 0)
                                                                   for s in ('attn', 'mlp')]
    # a scope that is not swept can have its floor alone (test_gpt2's floor_scopes)
    alone = trial_grid(['gaussian_noise'], ['attn'], ['all'], GRIDS, repeats=3, floors=['attn', 'mlp'])
    assert {t.scope for t in alone if t.kind == 'gaussian_noise'} == {'attn'}
    assert [t for t in alone if t.kind == 'random_deletion'] == [Trial('random_deletion', s, 'all', 1.0, 0)
                                                                 for s in ('attn', 'mlp')]


def test_head_deletion_runs_once_over_the_scopes_that_hold_the_same_heads():
    from robustness.perturb import perturbed
    grid = trial_grid(['head_deletion', 'random_deletion'], ['mlp', 'blocks', 'attn', 'all'], ['all'], GRIDS, repeats=1)
    assert {t.scope for t in grid if t.kind == 'head_deletion'} == {'blocks'}  # mlp holds no heads
    assert sorted({t.scope for t in grid if t.kind == 'random_deletion'}) == ['all', 'attn', 'blocks', 'mlp']
    # the rule's reason: in blocks and in all, head deletion zeroes exactly what it zeroes in attn
    model = gpt2()
    touched = {}
    for scope in ('attn', 'blocks', 'all'):
        with perturbed(model, 'head_deletion', 0.5, scope=scope, seed=1):
            touched[scope] = {name: (p == 0).clone() for name, p in model.named_parameters()}
    assert all(torch.equal(touched['attn'][n], touched[s][n]) for s in ('blocks', 'all') for n in touched['attn'])
    with pytest.raises(ValueError, match='no attention heads in scope mlp'):
        trial_grid(['head_deletion'], ['mlp'], ['all'], GRIDS, repeats=1)


def test_resume_and_level_zero_reuse(tmp_path):
    model = gpt2()
    grid = trial_grid(['random_deletion', 'gaussian_noise'], ['attn', 'mlp'], ['all'], GRIDS, repeats=2)
    scored = []

    def score(trial):
        scored.append(1)
        return float(model.transformer.h[0].attn.c_attn.weight.detach().sum())

    def sweep():
        log, measured = open_log(str(tmp_path), TABLE)
        todo = pending(grid, measured, lambda t: dict(model='m', **t._asdict()))
        run_trials(model, todo, score, lambda t, value, sparsity, seconds: log.write(dict(model='m', **t._asdict(),
                                                                                          value=value)))
        return todo

    first = sweep()
    assert len(first) == len(grid) and len(scored) == len(grid) - 4 + 1  # 4 level-0 rows, scored once
    frame = pd.read_csv(tmp_path / 'x.csv')
    assert frame[frame.level == 0].value.nunique() == 1
    assert sweep() == [] and len(scored) == len(grid) - 3  # a rerun measures nothing
    # an interrupted run: the last two rows lost, one cut short in the middle of its write
    lines = (tmp_path / 'x.csv').read_text().splitlines(keepends=True)
    (tmp_path / 'x.csv').write_text(''.join(lines[:-2]) + lines[-2][:9])
    again = sweep()
    assert again == grid[-2:]
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / 'x.csv'), frame)


def test_a_scope_of_one_tensor_gets_one_row_for_kinds_that_equal_there():
    """non_linear.py's heads are one matrix: global magnitude pruning there is magnitude pruning, one row."""
    kinds = ['magnitude_pruning', 'global_magnitude_pruning']
    single = [name for name in ('backbone', 'heads') if len(scoped_parameters(small_resnet_net(), name)) == 1]
    assert single == ['heads']
    grid = trial_grid(kinds, ['backbone', 'heads'], ['all'], GRIDS, 1, single_tensor_scopes=single)
    assert {(t.kind, t.scope) for t in grid} == {('magnitude_pruning', 'backbone'), ('magnitude_pruning', 'heads'),
                                                 ('global_magnitude_pruning', 'backbone')}
    alone = trial_grid(['global_magnitude_pruning'], ['heads'], ['all'], GRIDS, 1, single_tensor_scopes=single)
    assert alone  # the other kind not swept: this one keeps its row


@pytest.mark.parametrize('kind,options,other', [('nm_pruning', {'group': 2}, {'group': 4}),
                                                ('wanda_pruning', {'calibration': torch.arange(48).view(3, 16) % 100},
                                                 {'calibration': torch.arange(48).view(3, 16).flip(1) % 100})])
def test_options_reach_the_kind(kind, options, other):
    """run_trials gives each kind its options: its masks are those of perturbed with the same options and differ from
    those of others (2:4 and 1:2 give the same sparsity, not the same masks); dropped, they would not."""
    def masks(**chosen):
        with perturbed(model, kind, 0.5, scope='attn', **chosen):
            return [w == 0 for _, w in scoped_parameters(model, 'attn')]

    def record(trial, value, sparsity, seconds):
        seen.append(value)

    model, seen = gpt2(), []
    run_trials(model, [Trial(kind, 'attn', 'all', 0.5, 0)],
               lambda trial: [w == 0 for _, w in scoped_parameters(model, 'attn')], record, options={kind: options})
    assert all(torch.equal(a, b) for a, b in zip(seen[0], masks(**options)))
    assert not all(torch.equal(a, b) for a, b in zip(seen[0], masks(**other)))


def test_ranks_share_every_model_and_merge_into_one_csv(tmp_path):
    work = [(model, Trial('random_deletion', 'attn', 'all', level, 0)) for model in 'ab' for level in (0, 0.5, 1)]
    shares = [mine(work, Runtime(None, rank, rank, 2)) for rank in (0, 1)]
    assert sorted(shares[0] + shares[1]) == sorted(work)
    assert all({model for model, _ in share} == {'a', 'b'} for share in shares)  # round-robin over models
    for rank, share in enumerate(shares):
        log, _ = open_log(str(tmp_path), TABLE, Runtime(None, rank, rank, 2))
        assert log.path.endswith(f'x.part{rank}.csv')
        log.write_rows([dict(model=m, **t._asdict(), value=1.0) for m, t in share])
    # parts of a stopped run count as measured for the next one
    _, measured = open_log(str(tmp_path), TABLE)
    assert pending([t for _, t in work], measured, lambda t: dict(model='a', **t._asdict())) == []
    merged = merge_parts(str(tmp_path), TABLE)
    assert len(merged.read()) == len(work) and not list(tmp_path.glob('x.part*'))


