import json
import os
import subprocess
import sys
import textwrap

import pytest
import torch

from robustness.config import ConfigError, check_choices, check_range, configure, save_config


def namespace():
    return {'dataset': 'digits', 'task_counts': [4, 5], 'levels': [0.0, 0.5], 'seeds': 20, 'lr': 5e-3,
            'verbose': True, 'layers': [], 'name': 'run', '__file__': __file__}


def test_overrides_parse_to_the_default_type():
    ns = namespace()
    config = configure(ns, ['--task_counts=6,7', '--levels=0,1', '--seeds=3', '--lr=1', '--verbose=false',
                            '--layers=0,11', '--name=x'])
    assert config['task_counts'] == [6, 7]
    assert config['levels'] == [0.0, 1.0] and all(isinstance(v, float) for v in config['levels'])
    assert config['seeds'] == 3 and config['lr'] == 1.0 and config['verbose'] is False
    assert config['layers'] == [0, 11] and ns['name'] == 'x'


@pytest.mark.parametrize('arg, message', [
    ('--nope=1', 'unknown setting --nope'),
    ('--seeds=many', 'expected int'),
    ('--verbose=maybe', 'expected bool'),
    ('--task_counts=4,x', 'expected comma-separated int'),
    ('--seeds', 'give a value'),
    ('missing.py', 'does not exist'),
])
def test_bad_overrides_are_one_line_errors(arg, message):
    with pytest.raises(ConfigError) as error:
        configure(namespace(), [arg])
    assert message in str(error.value) and '\n' not in str(error.value)
    assert error.value.code.startswith('error: ')


def test_config_file_then_command_line(tmp_path):
    path = tmp_path / 'paper.py'
    path.write_text('seeds = 7\nlevels = [0.0, 1, 2]\n')
    config = configure(namespace(), [str(path), '--dataset=mnist'])
    assert config['seeds'] == 7 and config['levels'] == [0.0, 1.0, 2.0] and config['dataset'] == 'mnist'
    path.write_text('seeds = "seven"\n')
    with pytest.raises(ConfigError, match='seeds: expected int'):
        configure(namespace(), [str(path)])
    path.write_text('sedes = 7\n')
    with pytest.raises(ConfigError, match="unknown setting 'sedes'"):
        configure(namespace(), [str(path)])


def test_help_lists_every_constant_with_its_comment(tmp_path):
    script = tmp_path / 'script.py'
    script.write_text(textwrap.dedent('''
        import sys; sys.path.insert(0, %r)
        from robustness.config import check_choices, configure, settings_checked
        dataset = 'digits'  # which data set
        seeds = 20          # draws per level
        config = configure(globals())
        check_choices('dataset', dataset, ['digits', 'mnist'])
        settings_checked()
        print('working')
    ''' % os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    out = subprocess.run([sys.executable, str(script), '--help'], capture_output=True, text=True)
    assert out.returncode == 0 and 'working' not in out.stdout
    assert 'which data set' in out.stdout and 'draws per level' in out.stdout and '--seeds' in out.stdout
    # --help checks the values too: the script's checks run before the usage is printed
    wrong = subprocess.run([sys.executable, str(script), '--dataset=bogus', '--help'], capture_output=True, text=True)
    assert wrong.returncode == 1 and "dataset: unknown value 'bogus'" in wrong.stderr and 'usage' not in wrong.stdout
    bad = subprocess.run([sys.executable, str(script), '--seed=1'], capture_output=True, text=True)
    assert bad.returncode != 0 and bad.stderr.strip().count('\n') == 0 and 'unknown setting --seed' in bad.stderr


def test_checks():
    check_choices('corruptions', ['a', 'b'], ['a', 'b', 'c'])
    with pytest.raises(ConfigError, match="corruptions: unknown value 'd'; valid: a, b, c"):
        check_choices('corruptions', ['a', 'd'], ['a', 'b', 'c'])
    check_range('levels', [0, 0.5, 1], 0, 1)
    with pytest.raises(ConfigError, match=r'levels: 1.5 is outside \[0, 1\]'):
        check_range('levels', [0, 1.5], 0, 1)


def test_save_config(tmp_path):
    save_config({'a': 1, 'b': [1, 2]}, str(tmp_path / 'x' / 'config.json'))
    assert json.load(open(tmp_path / 'x' / 'config.json')) == {'a': 1, 'b': [1, 2]}


def test_library_errors_are_one_line_errors_that_callers_can_catch():
    """One way for bad input everywhere: a library function raises the one-line ConfigError, which uncaught exits with
    `error: <message>` and caught is a ValueError."""
    from robustness.scopes import scoped_parameters
    with pytest.raises(ConfigError) as error:
        scoped_parameters(torch.nn.Linear(2, 2), 'nowhere')
    assert isinstance(error.value, ValueError) and '\n' not in error.value.code
    assert error.value.code == f"error: {error.value}" and "unknown scope 'nowhere'" in str(error.value)
