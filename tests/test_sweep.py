"""robustness.sweep and robustness.results: the trial grid, resume, level-0 reuse, rank sharding, the out_dir lock and
rows cut short, tested once where they live."""

import errno
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time

import pandas as pd
import pytest
import torch

from robustness.results import ResultsLog
from robustness.runtime import Runtime
from conftest import run_script
from robustness.lock import claim
from robustness.sweep import Trial, merge_parts, mine, open_log, pending, run_trials, trial_grid
from test_perturb import gpt2

COLUMNS = ['model', 'kind', 'scope', 'layers', 'level', 'repeat', 'value']
KEY = ('model', 'kind', 'scope', 'layers', 'level', 'repeat')
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

    def score():
        scored.append(1)
        return float(model.transformer.h[0].attn.c_attn.weight.detach().sum())

    def sweep():
        log, measured = open_log(str(tmp_path), 'x.csv', COLUMNS, KEY)
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


def test_truncated_row_with_a_line_end_is_dropped_too(tmp_path):
    path = tmp_path / 'x.csv'
    path.write_text(','.join(COLUMNS) + '\nm,random_deletion,attn,all,0.5,0,1.5\nm,random_deletion,attn\n')
    log = ResultsLog(str(path), COLUMNS, KEY)
    assert log.has(model='m', kind='random_deletion', scope='attn', layers='all', level=0.5, repeat=0)
    assert path.read_text().count('\n') == 2 and len(log.done) == 1


def test_ranks_share_every_model_and_merge_into_one_csv(tmp_path):
    work = [(model, Trial('random_deletion', 'attn', 'all', level, 0)) for model in 'ab' for level in (0, 0.5, 1)]
    shares = [mine(work, Runtime(None, rank, rank, 2)) for rank in (0, 1)]
    assert sorted(shares[0] + shares[1]) == sorted(work)
    assert all({model for model, _ in share} == {'a', 'b'} for share in shares)  # round-robin over models
    for rank, share in enumerate(shares):
        log, _ = open_log(str(tmp_path), 'x.csv', COLUMNS, KEY, Runtime(None, rank, rank, 2))
        assert log.path.endswith(f'x.part{rank}.csv')
        log.write_rows([dict(model=m, **t._asdict(), value=1.0) for m, t in share])
    # parts of a stopped run count as measured for the next one
    _, measured = open_log(str(tmp_path), 'x.csv', COLUMNS, KEY)
    assert pending([t for _, t in work], measured, lambda t: dict(model='a', **t._asdict())) == []
    merged = merge_parts(str(tmp_path), 'x.csv', COLUMNS, KEY)
    assert len(merged.read()) == len(work) and not list(tmp_path.glob('x.part*'))


HOLDER = textwrap.dedent("""
    import os, sys, time
    sys.path.insert(0, {root!r})
    from robustness.lock import claim
    claim(sys.argv[1])
    if sys.argv[3:] == ['fork'] and os.fork() == 0:  # a worker that outlives its parent
        time.sleep(float(sys.argv[2]))
        os._exit(0)
    print('held', os.getpid(), flush=True)
    time.sleep(float(sys.argv[2]))
""")


def holder(tmp_path, out, seconds, *extra):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    script = tmp_path / 'holder.py'
    script.write_text(HOLDER.format(root=root))
    process = subprocess.Popen([sys.executable, str(script), str(out), str(seconds), *extra], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    return script, process


def test_out_dir_lock_names_its_holder_and_dies_with_it(tmp_path):
    out = tmp_path / 'out'
    script, first = holder(tmp_path, out, 60)
    try:
        assert first.stdout.readline().split()[0] == 'held'
        second = subprocess.run([sys.executable, str(script), str(out), '0'], capture_output=True, text=True)
        assert second.returncode == 1
        assert second.stderr.strip() == (f'error: out_dir: {out} is in use by another run (process {first.pid} on '
                                         f'{socket.gethostname()}); wait for it to finish, or choose another --out_dir')
    finally:
        first.send_signal(signal.SIGKILL)  # no handler runs: the kernel frees the lock
        first.wait()
    again = subprocess.run([sys.executable, str(script), str(out), '0'], capture_output=True, text=True)
    assert again.returncode == 0 and again.stdout.startswith('held')
    claim(str(out))
    claim(str(out))  # again from the holder: a no-op


def test_forked_children_keep_the_lock(tmp_path):
    """A parent killed while its forked workers still write loses nothing to the next run."""
    out = tmp_path / 'out'
    script, parent = holder(tmp_path, out, 60, 'fork')
    assert parent.stdout.readline().split()[0] == 'held'
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    blocked = subprocess.run([sys.executable, str(script), str(out), '0'], capture_output=True, text=True)
    assert blocked.returncode == 1 and 'is in use by another run' in blocked.stderr  # the worker still holds it
    subprocess.run(['pkill', '-KILL', '-f', f'{script} {out} 60 fork'])
    time.sleep(0.5)
    assert subprocess.run([sys.executable, str(script), str(out), '0'], capture_output=True).returncode == 0


def test_a_filesystem_without_kernel_locks_falls_back_with_a_warning(tmp_path, monkeypatch, capsys):
    import fcntl
    from robustness import lock

    def no_locks(descriptor, operation):
        raise OSError(errno.ENOLCK, 'No locks available')
    monkeypatch.setattr(fcntl, 'flock', no_locks)
    monkeypatch.setattr(lock, '_HELD', {})
    claim(str(tmp_path / 'nfs'))
    error = capsys.readouterr().err
    assert error.startswith(f"warning: {tmp_path / 'nfs'} has no kernel file locks") and error.count('\n') == 1
    assert (tmp_path / 'nfs' / '.lock.soft').exists()
    lock._HELD[os.path.realpath(tmp_path / 'nfs')].release()


def test_two_runs_into_one_out_dir_write_no_duplicate(tmp_path):
    """The user who starts the same command twice: both start together; one stops with the one-line error (or, had
    the other finished first, finds everything measured), and no key is measured twice."""
    from gpt2_fixtures import ruth, save_tiny_model
    text = ruth()
    save_tiny_model(tmp_path / 'm', text, n_layer=1)
    (tmp_path / 'eval.txt').write_text(text[:3000])
    args = [f'--models=m={tmp_path / "m"}', f'--eval_file={tmp_path / "eval.txt"}', '--kinds=random_deletion',
            '--scope=attn', '--levels=0,0.2,0.4,0.6,0.8,1', '--repeats=6', '--checkpoints=False', '--max_length=32',
            f'--out_dir={tmp_path / "out"}', f'--visuals_dir={tmp_path / "v"}']
    script = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'test_gpt2.py')
    runs = [subprocess.Popen([sys.executable, script, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True) for _ in range(2)]
    results = [(run.wait(timeout=300), run.communicate()[1]) for run in runs]
    assert any(code == 0 for code, _ in results), results
    for code, stderr in results:
        assert code == 0 or stderr.strip().splitlines()[-1].startswith(f'error: out_dir: {tmp_path / "out"} is in use')
    frame = pd.read_csv(tmp_path / 'out' / 'perplexity.csv')
    assert not frame.duplicated(['model', 'kind', 'scope', 'level', 'repeat']).any() and len(frame) == 1 + 4 * 6 + 1


@pytest.mark.parametrize('kind', ['head_deletion', 'nm_pruning'])
def test_run_trials_passes_options(kind):
    model = gpt2()
    seen = []
    level = 1.0 if kind == 'head_deletion' else 0.5
    run_trials(model, [Trial(kind, 'attn', 'all', level, 0)], lambda trial: 0.0,
               lambda t, value, sparsity, seconds: seen.append(sparsity),
               options={'nm_pruning': {'group': 2}})
    assert seen == [pytest.approx(level)]


@pytest.mark.parametrize('script,args', [
    ('binary_classification.py', ['--task_counts=4']),
    ('non_linear.py', ['--task_counts=1', '--train_seeds=0']),
    ('train_bilingual_gpt2.py', ['--max_docs=24', '--train_models=monolingual', '--train_seeds=1']),
])
def test_a_held_out_dir_stops_every_script_before_it_writes(tmp_path, script, args):
    """A live run holds out_dir (here a holder process: the lock is all that the second run sees of the first); the
    script stops at once with the one-line error naming it, and writes nothing."""
    out = tmp_path / 'out'
    _, first = holder(tmp_path, out, 120)
    try:
        assert first.stdout.readline().split()[0] == 'held'
        result = run_script(script, *args, f'--out_dir={out}', f'--visuals_dir={tmp_path / "v"}')
        assert result.returncode == 1
        assert result.stderr.strip().splitlines()[-1] == (
            f'error: out_dir: {out} is in use by another run (process {first.pid} on {socket.gethostname()}); wait '
            f'for it to finish, or choose another --out_dir')
        assert [path.name for path in out.iterdir()] == ['.lock'] and not (tmp_path / 'v').exists()
    finally:
        first.kill()
        first.wait()
