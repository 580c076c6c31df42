"""The command lines the documentation shows run: every `python ...` and `torchrun ...` line of the README, docs/, the
scripts' docstrings and the Makefile names a script that exists and settings it accepts, with values of their types
(checked as `python script.py ARGS --help` checks them, in this process), and config files that load."""

import ast
import glob
import os
import re
import shlex

import pytest

from conftest import ROOT, run_in_process
from robustness import report
from robustness.provenance import fingerprint

COMMAND = re.compile(r'(?:python3?|torchrun|\$\(PY\)) ')


def command_lines(text, fenced_only=False):
    """The command lines of Markdown `text`: lines of fenced blocks (joined across trailing backslashes) and inline
    code spans that start with python or torchrun; a trailing `# comment` dropped."""
    found, fenced = [], fenced_only
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index].strip()
        if line.startswith('```'):
            fenced = not fenced
        elif fenced:
            while line.endswith('\\') and index + 1 < len(lines):
                index += 1
                line = line[:-1] + ' ' + lines[index].strip()
            found.append(line)
        else:
            found += re.findall(r'`((?:python|torchrun) [^`]+)`', line)
        index += 1
    return [line.split(' #')[0].strip() for line in found if COMMAND.match(line)]


def makefile_lines():
    """The Makefile's recipe lines that run a script, once per study arm and per training config of the arm, with
    its variables filled in; a line guarded by $(wildcard FILE) only for the arms that have FILE."""
    text = open(os.path.join(ROOT, 'Makefile')).read().replace('\\\n', ' ')
    lines = [line.strip() for line in text.splitlines()
             if line.startswith(('\t$(PY) ', '\t$(if $(wildcard ')) and ' -m pip ' not in line]
    arms = sorted(os.path.basename(path).removesuffix('_test_gpt2.py')
                  for path in glob.glob(os.path.join(ROOT, 'configs', 'study*_test_gpt2.py')))
    filled = []
    for arm in arms:
        trainings = sorted(os.path.basename(path).removesuffix('.py')
                           for path in glob.glob(os.path.join(ROOT, 'configs', f'{arm}_train*.py')))
        for line in lines:
            guard = re.match(r'\$\(if \$\(wildcard (\S+?\.py)\),(.*)\)$', line)
            if guard and not os.path.exists(os.path.join(ROOT, guard[1].replace('$(STUDY)', arm))):
                continue
            for training in trainings if '$*' in line else ['']:
                one = (guard[2] if guard else line).replace('$*', training).replace('$(STUDY)', arm)
                one = one.replace('$(FINETUNED)', 'results/offline_finetune')
                filled.append(re.sub(r'\$\((STUDY_\w+|if [^)]*\))\)?', '', one).replace('$(PY)', 'python'))
    return sorted(set(filled))


def documented():
    """(where, command line) for every command line of the docs, the scripts' docstrings and the Makefile."""
    found = []
    for path in ['README.md', *sorted(glob.glob('docs/*.md', root_dir=ROOT))]:
        found += [(path, line) for line in command_lines(open(os.path.join(ROOT, path)).read())]
    for path in sorted(glob.glob('*.py', root_dir=ROOT) + glob.glob('bench/*.py', root_dir=ROOT)
                       + glob.glob('tasks/*.py', root_dir=ROOT) + glob.glob('robustness/*.py', root_dir=ROOT)):
        docstring = ast.get_docstring(ast.parse(open(os.path.join(ROOT, path)).read())) or ''
        found += [(path, line) for line in command_lines(docstring, fenced_only=True)]
    return found + [('Makefile', line) for line in makefile_lines()]


def split(line):
    """(script or -m module, its arguments) of a command line; `...` and the [optional] brackets dropped."""
    words = [word.strip('[]') for word in shlex.split(line) if word != '...']
    if words[0] == 'torchrun':
        words = words[next(i for i, word in enumerate(words) if word.endswith('.py')):]
    else:
        words = words[1:]
    if words[0] == '-m':
        return words[1], words[2:]
    return words[0], [word for word in words[1:] if word.startswith('--') or word.endswith('.py')]


COMMANDS = documented()


def test_the_docs_show_every_script():
    shown = {split(line)[0] for _, line in COMMANDS}
    scripts = {'binary_classification.py', 'non_linear.py', 'train_bilingual_gpt2.py', 'test_gpt2.py',
               'run_glue_test.py', 'robustness.analyze', 'robustness.report', 'tasks/build_tasks.py'}
    assert scripts <= shown, scripts - shown


@pytest.mark.parametrize('where, line', COMMANDS, ids=[f'{where}: {line[:60]}' for where, line in COMMANDS])
def test_a_documented_command_line_runs(monkeypatch, capsys, where, line):
    script, arguments = split(line)
    if script.startswith('robustness.'):  # a module's command line: its parser
        module = __import__(script, fromlist=['parser'])
        module.parser().parse_args(arguments)  # argparse exits 2 on a setting it lacks
        return
    assert os.path.isfile(os.path.join(ROOT, script)), f"{where}: {script} does not exist"
    for config_file in (word for word in arguments if not word.startswith('--')):
        assert os.path.isfile(os.path.join(ROOT, config_file)), f"{where}: {config_file} does not exist"
    if 'configure(globals()' not in open(os.path.join(ROOT, script)).read():
        assert not arguments, f"{where}: {script} takes no settings"
        return
    monkeypatch.chdir(ROOT)
    stopped = run_in_process(monkeypatch, script, *arguments, '--help')
    assert stopped.code == 0, f"{where}: {line}\n{stopped.code}"
    assert 'usage: python' in capsys.readouterr().out


def test_the_make_variables_the_docs_use_exist_and_their_settings_run(monkeypatch, capsys):
    makefile = open(os.path.join(ROOT, 'Makefile')).read().replace('\\\n', ' ')
    script_of = {variable: script for script, variable in
                 re.findall(r'\$\(PY\) (\S+\.py) \S+ \$\((STUDY_\w+)\)', makefile)}
    assert set(script_of) == {'STUDY_TRAIN', 'STUDY_SWEEP', 'STUDY_GLUE'}
    used = []
    for path in ['README.md', *glob.glob('docs/*.md', root_dir=ROOT)]:
        for command in re.findall(r'make \w+((?: \w+=(?:"[^"]*"|\S*))+)', open(os.path.join(ROOT, path)).read()):
            used += [(path, *assignment.split('=', 1)) for assignment in shlex.split(command.strip('`'))]
    assert used
    for path, variable, value in used:
        assert f'$({variable})' in makefile, f"{path}: the Makefile has no {variable}"
        if variable in script_of:
            stopped = run_in_process(monkeypatch, script_of[variable], *value.split(), '--help')
            assert stopped.code == 0, f"{path}: {variable}={value}"
    capsys.readouterr()


REPORTS = sorted(glob.glob(os.path.join(ROOT, 'visuals', '**', 'README.md'), recursive=True))
EMBEDDED = re.compile(r'!\[[^\]]*\]\(([^)]+\.png)\)(\n<!-- sha256 ([0-9a-f]{64}) -->)?')


@pytest.mark.parametrize('report', REPORTS, ids=lambda path: os.path.relpath(path, ROOT))
def test_a_committed_report_embeds_only_the_figures_its_run_drew(report):
    """Every figure a generated report embeds carries the fingerprint of the file its run drew, and the committed file
    is that file: a figure another run has overwritten since fails here."""
    text = open(report).read()
    figures = EMBEDDED.findall(text)
    assert figures, f"{report} embeds no figure"
    for path, _, recorded in figures:
        figure = os.path.join(os.path.dirname(report), path)
        assert recorded, f"{path} in {report} carries no fingerprint: regenerate the report"
        assert os.path.exists(figure), f"{path} in {report} is missing"
        assert fingerprint(figure) == recorded, f"{path} in {report} is not the figure its run drew"


def test_every_committed_figure_is_embedded_somewhere():
    """No leftover of an earlier run sits in visuals/ beside the reports: each PNG is shown by a report or the
    README."""
    shown = {os.path.normpath(os.path.join(os.path.dirname(report), path))
             for report in REPORTS for path, _, _ in EMBEDDED.findall(open(report).read())}
    shown |= {os.path.normpath(os.path.join(ROOT, path))
              for path, _, _ in EMBEDDED.findall(open(os.path.join(ROOT, 'README.md')).read())}
    figures = {os.path.normpath(path) for path in glob.glob(os.path.join(ROOT, 'visuals', '**', '*.png'), recursive=True)}
    assert not figures - shown, sorted(os.path.relpath(path, ROOT) for path in figures - shown)


def test_every_script_with_settings_stops_for_help_where_its_checks_end():
    """configure leaves --help to settings_checked: a script that never called it would start its work."""
    for path in [*glob.glob('*.py', root_dir=ROOT), *glob.glob('bench/*.py', root_dir=ROOT), 'tasks/build_tasks.py']:
        text = open(os.path.join(ROOT, path)).read()
        if 'configure(globals()' in text:
            assert text.count('\nsettings_checked()') == 1, path
            assert text.index('configure(globals()') < text.index('\nsettings_checked()'), path


def test_help_checks_the_values_of_a_command_line(monkeypatch, capsys):
    stopped = run_in_process(monkeypatch, 'test_gpt2.py', '--kinds=bogus', '--levels=0,5', '--help')
    assert stopped.code != 0 and 'bogus' in str(stopped.code)
    assert 'usage' not in capsys.readouterr().out


def test_the_readme_summarises_every_study_arm_from_its_archive(monkeypatch):
    """The README's study block is what the generator writes from the committed archives (visuals/<arm>/data/): no
    number in it is typed by hand, and an arm without an archive is listed as such."""
    monkeypatch.chdir(ROOT)
    text = open('README.md').read()
    block = text.split('<!-- studies:begin -->\n', 1)[1].split('<!-- studies:end -->', 1)[0]
    assert block == '\n'.join(report.study_block()) + '\n'
    for arm in os.listdir('visuals'):
        if arm.startswith('study') and os.path.exists(os.path.join('visuals', arm, 'README.md')):
            assert f'(visuals/{arm}/README.md)' in block
