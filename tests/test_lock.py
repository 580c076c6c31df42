"""robustness/lock.py: one run per out_dir, named in the error of any other, held by its forked workers, released
when it dies; every script stops before it writes."""

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

from conftest import run_script
from robustness.analysis.test_gpt2_csv import TABLE as PERPLEXITY
from robustness.lock import claim


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
    args = [f'--models=m={tmp_path / "m"}', f'--eval_files=en={tmp_path / "eval.txt"}', '--lm_eval_tasks=', '--kinds=random_deletion',
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
    assert not frame.duplicated(list(PERPLEXITY.key)).any() and len(frame) == 1 + 4 * 6 + 1 + 1  # and the untrained


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
