"""The repository as a user first meets it: `pytest` in the root collects tests/ and never imports a script."""

import ast
import os
import subprocess
import sys

import pytest

from conftest import ROOT


def test_pytest_in_the_root_collects_only_the_tests():
    result = subprocess.run([sys.executable, '-m', 'pytest', '--collect-only', '-q', '-p', 'no:xdist'], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    collected = [line for line in result.stdout.splitlines() if '::' in line]
    assert len(collected) > 100 and all(line.startswith('tests/') for line in collected)
    assert 'rank 0' not in result.stdout and 'error:' not in result.stdout  # no script ran


SCRIPTS = ('binary_classification.py', 'non_linear.py', 'train_bilingual_gpt2.py', 'test_gpt2.py', 'run_glue_test.py')


def module_names(tree):
    """(the settings: the names assigned before `config = configure(...)`, every other name a script's top level
    assigns)."""
    settings, assigned, before_config = set(), set(), True
    for node in tree.body:
        stored = {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)} \
            if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.For, ast.With, ast.If, ast.Try)) else set()
        if before_config and 'config' in stored:
            before_config = False
        (settings if before_config else assigned).update(stored)
    return settings, assigned - settings - {'config'}


def globals_read(function, assigned):
    """The module globals (not settings, not CONSTANTS) that a function reads."""
    local = {a.arg for a in ast.walk(function.args) if isinstance(a, ast.arg)}
    local |= {n.id for n in ast.walk(function) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    local |= {a.arg for sub in ast.walk(function) if isinstance(sub, (ast.Lambda, ast.FunctionDef))
              for a in ast.walk(sub.args) if isinstance(a, ast.arg)}
    return {n.id for n in ast.walk(function) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
            and n.id in assigned and n.id not in local and not n.id.isupper()}


@pytest.mark.parametrize('script', SCRIPTS)
def test_script_functions_read_only_the_settings(script):
    """A script reads top to bottom: its functions take what they need as arguments and read no module global but the
    settings at the top (and CONSTANTS), and no function is defined inside a loop."""
    tree = ast.parse(open(os.path.join(ROOT, script)).read())
    _, assigned = module_names(tree)
    functions = [node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)]
    read = {function.name: sorted(found) for function in functions if (found := globals_read(function, assigned))}
    assert not read, read
    loops = [node for node in tree.body if isinstance(node, (ast.For, ast.While))]
    assert not [node.name for loop in loops for node in ast.walk(loop) if isinstance(node, (ast.FunctionDef, ast.Lambda))]


def test_the_globals_check_finds_a_function_that_reads_a_later_global():
    tree = ast.parse("seed = 0\nconfig = configure(globals())\ndef f():\n    return corpus + seed\ncorpus = load()\n")
    _, assigned = module_names(tree)
    assert globals_read(tree.body[2], assigned) == {'corpus'}


def test_git_ignores_nothing_the_reports_read():
    """The reports, their figures and their archived CSVs (visuals/<arm>/data/) travel with a clone: a clone's
    `python -m robustness.analyze` and the README's study block read them."""
    if not os.path.isdir(os.path.join(ROOT, '.git')) and not os.path.isfile(os.path.join(ROOT, '.git')):
        pytest.skip('not a git checkout')
    ignored = subprocess.run(['git', 'ls-files', '--others', '--ignored', '--exclude-standard', '--', 'visuals', 'docs',
                              'configs'], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    assert ignored == []
