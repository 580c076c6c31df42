"""The report of a run: every verdict and measured number, from the scripts' own output, never typed by hand.

    python -m robustness.report                 # results/*/ -> visuals/README.md (GitHub shows it beside the figures)
    python -m robustness.report --results=results --out=visuals/README.md

Each script writes out_dir/summary.json (its numbers and verdicts), out_dir/config.json (its settings) and
out_dir/run.json (robustness.provenance.record_run: its wall time, the machine, the versions, the figures it wrote). The
report lays them out: one section per script, with its wall time, the tables its analysis renders from its summary
(robustness/analysis/<script>.py's `render`), its figures and its configuration; then the arms side by side and the
README's generated blocks.
"""

import argparse
import datetime
import json
import os

from robustness import study_map
from robustness.analysis import (OUTCOME_WORDS, QUESTIONS, binary_classification, counts_text, interval_text,
                                 non_linear, run_glue_test, test_gpt2_report, train_bilingual_gpt2)
from robustness.analysis.schema import read_summary
from robustness.analysis.markdown import answer, number, table
from robustness.config import check
from robustness.provenance import figure_markdown, fingerprint

ORDER = ['binary_classification', 'non_linear', 'train_bilingual_gpt2', 'test_gpt2', 'run_glue_test']

# each script's section is rendered by its analysis, from its summary
RENDER = {'binary_classification': binary_classification, 'non_linear': non_linear,
          'train_bilingual_gpt2': train_bilingual_gpt2, 'test_gpt2': test_gpt2_report, 'run_glue_test': run_glue_test}


def section(name, folder, report_dir):
    read = lambda filename, load=lambda path: json.load(open(path)): load(os.path.join(folder, filename)) \
        if os.path.exists(os.path.join(folder, filename)) else None
    summary, config, run = read('summary.json', read_summary), read('config.json'), read('run.json')
    script = run['script'].removesuffix('.py') if run else name  # an extra out_dir names its script in run.json
    title = f"{script}.py" + (f" (`{folder}`)" if script != name else '')
    lines = [f"## {title}", '', answer(summary, trend=script == 'non_linear') if summary and 'answer' in summary
             else QUESTIONS.get(script, '')]
    if run:
        at = lambda record: (f"commit `{record['commit'][:10]}`"
                             + (' with uncommitted changes' if record['dirty'] else '')
                             if record.get('commit') else 'no commit')
        redone = run.get('analysis')
        lines += ['',
                  f"Wall time **{run['seconds'] / 60:.1f} min** ({run['seconds']:.0f} s), finished {run['finished']} "
                  f"on {run['machine']}; Python {run['python']}, torch {run['torch']}; {at(run)}"
                  + (f"; summary and figures redone from the CSV on {redone['finished'][:10]} at {at(redone)}"
                     if redone else '') + '.']
    if summary and script in RENDER:
        lines += ['', RENDER[script].render(summary)]
        if summary.get('note'):
            lines += ['', summary['note']]
    for figure, recorded in (run or {}).get('figures', {}).items():
        lines += ['', embedded(figure, recorded, folder, report_dir)]
    if config:
        shown = ', '.join(f"`{key}={','.join(map(str, value)) if isinstance(value, list) else value}`"
                          for key, value in config.items())
        lines += ['', f"<details><summary>configuration</summary>\n\n{shown}\n\n</details>"]
    return '\n'.join(lines)


def embedded(figure, recorded, folder, report_dir):
    """The Markdown of one figure that a run drew, with its fingerprint in a comment (tests/test_docs.py checks the
    committed reports by it); a one-line error (SystemExit) where the file is gone or is no longer the one the run
    drew (another run has overwritten it), or the run recorded no fingerprint (a run.json from before they existed)."""
    where = f"{figure}, drawn by the run in {folder}"
    check(isinstance(recorded, str), f"figures: {where} has no fingerprint in its run.json: re-analyse the run "
                                     f"(python -m robustness.analyze) or rerun its script")
    check(os.path.exists(figure), f"figures: {where}, is missing")
    check(fingerprint(figure) == recorded, f"figures: {where}, has since been overwritten by another run: re-analyse "
                                           f"the run (python -m robustness.analyze) or rerun its script")
    return figure_markdown(figure, report_dir, recorded)


def write_report(results='results', out='visuals/README.md', readme='README.md', command='make reproduce', arms=()):
    folders = [name for name in ORDER if os.path.isdir(os.path.join(results, name))]
    folders += sorted(name for name in os.listdir(results) if name not in folders
                      and os.path.exists(os.path.join(results, name, 'run.json'))) if os.path.isdir(results) else []
    report_dir = os.path.dirname(out) or '.'
    # make reproduce's folder also holds other commands' out_dirs (make finetune's); a study's folder is its own
    own = [name for name in folders if name in ORDER or command != 'make reproduce']
    total = sum(json.load(open(path))['seconds'] for name in own
                if os.path.exists(path := os.path.join(results, name, 'run.json')))
    parts = ['# Report of the last run' + (f" of `{command}`" if command != 'make reproduce' else ''),
             f"Generated by `python -m robustness.report` from `{results}/*/` (summary.json, config.json, run.json) on "
             f"{datetime.date.today().isoformat()}; every number below was written by the scripts themselves. "
             f"The scripts of `{command}` took **{total / 60:.1f} min** together"
             + ("; other out_dirs (such as `make finetune`'s) follow them." if set(folders) - set(own) else
                " (their wall times added: scripts that ran at once overlap)." if command != 'make reproduce' else '.')]
    parts += [section(name, os.path.join(results, name), report_dir) for name in folders]
    designs = designs_table(results, folders)
    if designs:
        parts += ['## The designs side by side', '', 'The verdicts of `test_gpt2.py` on the models of each design: '
                  'the offline default trains every model from scratch; other out_dirs hold other designs (`make '
                  "finetune`: the paper's, each training seed's three models fine-tuned from an English base of its "
                  "own, trained with that seed, so that the intervals over the training seeds cover the base's "
                  'training as well as the fine-tuning).', '', designs]
    summaries = {os.path.basename(os.path.normpath(folder)): read_summary(path) for folder in [results, *arms]
                 if os.path.exists(path := os.path.join(folder, 'test_gpt2', 'summary.json'))}
    if len(summaries) > 1:
        parts += ['## The arms side by side', '', arms_section(summaries)]
    os.makedirs(report_dir, exist_ok=True)
    with open(out, 'w') as f:
        f.write('\n\n'.join(parts) + '\n')
    print(f"wrote {out} ({len(folders)} scripts)")
    if readme and os.path.exists(readme):
        update_readme(readme, results, folders, total, out)


def designs_table(results, folders):
    """A row per comparison of test_gpt2.py's default summary, a column of verdicts (and half-failure levels a, b)
    per out_dir that test_gpt2.py wrote; '' when there is only the default."""
    runs = {name: json.load(open(os.path.join(results, name, 'run.json'))) for name in folders
            if os.path.exists(os.path.join(results, name, 'run.json'))}
    designs = [name for name in folders if runs.get(name, {}).get('script') == 'test_gpt2.py'
               and os.path.exists(os.path.join(results, name, 'summary.json'))]
    if 'test_gpt2' not in designs or len(designs) < 2:
        return ''
    summaries = {name: read_summary(os.path.join(results, name, 'summary.json'))['comparisons'] for name in designs}
    cell = lambda row: 'n/a' if row is None else row.verdict + (
        f" ({number(row.estimate)} {interval_text(row.ci)})" if row.ci else '')
    by_identity = {name: {row.identity: row for row in rows} for name, rows in summaries.items()}
    rows = [[row.label, *(cell(by_identity[name].get(row.identity)) for name in designs)]
            for row in summaries['test_gpt2']]
    return table(['a - b / kind / scope',
                  *(f'`{name}`: verdict (difference in retained area, Holm-corrected CI)' for name in designs)], rows)


def excess_sign(row, unit):
    """The sign of a row's mean excess in `unit` ('+': a more robust), at the row's level; None where not measured."""
    if row.described.get('unit', 'byte') == unit:
        return row.measures.get('mean_excess', {}).get('sign')
    return (row.other_unit or {}).get('measures', {}).get('mean_excess', {}).get('sign')


def arms_section(arms):
    """The arms of a study side by side (`arms`: {name: test_gpt2 summary}): per comparison, each arm's verdict and
    the sign of its mean excess per token (the paper's unit) and per byte; then, in words, whether the effect the
    paper measured (a more robust per token) appears, and whether it survives one tokenizer and per-byte scoring."""
    header = ['comparison']
    for arm in arms:
        header += [f'`{arm}`: verdict', f'`{arm}`: mean excess per token, per byte']
    by_identity = [{row.identity: row for row in summary['comparisons']} for summary in arms.values()]
    rows = []
    for first in next(iter(arms.values()))['comparisons']:
        cells = [first.label]
        for rows_of in by_identity:
            row = rows_of.get(first.identity)
            cells += ['n/a', 'n/a'] if row is None else [row.verdict, f"{excess_sign(row, 'token') or 'n/a'}, "
                                                                     f"{excess_sign(row, 'byte') or 'n/a'}"]
        rows.append(cells)
    words = []
    for arm, summary in arms.items():
        rows_of = summary['comparisons']
        tested = [row for row in rows_of if row.holm_level is not None]
        count = lambda unit: sum(excess_sign(row, unit) == '+' for row in tested)
        shared = all(entry['same_tokenizer'] for entry in summary.get('facts', {}).get('pairs', {}).values())
        claimed = sum(row.outcome == 'higher' for row in rows_of)
        words.append(f"in `{arm}` ({'one tokenizer' if shared else 'each model its own tokenizer'}), the first model "
                     f"of a pair loses less per token in {count('token')} of {len(tested)} tested rows and per byte in "
                     f"{count('byte')}; under every measure it is more robust in {claimed}")
    return (table(header, rows) + '\n\n**Does the effect of the paper\'s measurement survive one tokenizer and '
            'per-byte scoring?** The paper\'s measure is the per-token loss (log perplexity) the bilingual model adds '
            'under damage against the monolingual one\'s: ' + '; '.join(words) + '. Signs are at each row\'s Holm '
            'level: + a more robust, - less, 0 undecided.')


def row_words(row):
    """A decided row in a few words: its outcome, with the direction of a difference within the margin, and its
    headline difference with the interval at its level."""
    words = OUTCOME_WORDS[row.outcome]
    if row.outcome == 'within the margin':
        words = f"{'more' if row.estimate > 0 else 'less'} robust, within the margin"
    return f"**{words}**" + (f" ({row.estimate:+.3f} {interval_text(row.ci, 3)})" if row.ci else '')


def arm_sentence(arm, summary):
    """One arm of `make study` in a sentence, from its archived test_gpt2 summary: the confirmatory rows first, then
    the verdicts of every row at final and at matched quality, and per token and per byte where the first model of a
    pair loses less (the arm's report has the rest)."""
    command = 'make study' + (f" STUDY_ARM={arm.removeprefix('study_')}" if arm != 'study' else '')
    shared = all(entry['same_tokenizer'] for entry in summary['facts']['pairs'].values())
    text = f"- [`{command}`](visuals/{arm}/README.md), {'one tokenizer' if shared else 'each model its own tokenizer'}"
    if summary.get('confirmatory'):
        text += (f". Confirmatory (Holm over {len(summary['confirmatory'])}): "
                 + '; '.join(f"`{row.label}` {row_words(row)}" for row in summary['confirmatory']))
    tested = [row for row in summary['comparisons'] if row.holm_level is not None]
    losses = ', '.join(f"per {unit} in {sum(excess_sign(row, unit) == '+' for row in tested)}"
                       for unit in ('token', 'byte'))
    text += f". All {summary['answer']['rows']} rows: final {counts_text(summary['answer'])}"
    if summary.get('matched_quality_answer'):
        text += f"; matched quality {counts_text(summary['matched_quality_answer'])}"
    return text + f"; a loses less {losses} of {len(tested)}."


def study_block(visuals='visuals'):
    """The README's summary of the study's arms: a sentence per arm whose evidence is archived
    (visuals/<arm>/data/test_gpt2/summary.json), and the arms whose report predates its archive."""
    arms = sorted(name for name in (os.listdir(visuals) if os.path.isdir(visuals) else []) if name.startswith('study')
                  and os.path.exists(os.path.join(visuals, name, 'README.md')))
    lines, missing = [], []
    for arm in arms:
        path = os.path.join(visuals, arm, 'data', 'test_gpt2', 'summary.json')
        if os.path.exists(path):
            lines.append(arm_sentence(arm, read_summary(path)))
        else:
            missing.append(f'[`{arm}`](visuals/{arm}/README.md)')
    if missing:
        lines.append(f"- Not summarised here: {', '.join(missing)}, whose reports predate the archive of their CSVs "
                     "(`visuals/<arm>/data/`); the next run of the arm writes it, and this list.")
    found = study_map.decide_map(visuals)
    if any(found['points'].values()):
        tests = '; '.join(f"{row.design}: {row.verdict}" for row in found['tests'])
        lines.append(f"- [The map](visuals/map/README.md), the arms side by side (Holm over its two tests): {tests}.")
    return lines


def replace_block(path, name, lines):
    """Rewrite the block between a file's `<!-- name:begin -->` and `<!-- name:end -->` markers (nothing without
    them, or no file)."""
    if not path or not os.path.exists(path):
        return
    text = open(path).read()
    begin, end = f'<!-- {name}:begin -->', f'<!-- {name}:end -->'
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        with open(path, 'w') as f:
            f.write(head + begin + '\n' + '\n'.join(lines) + '\n' + end + rest.split(end, 1)[1])
        print(f"updated the {name} block of {path}")


def update_readme(readme, results, folders, total, out):
    """Rewrite the README's measured block (between its markers) from run.json and test_suite.json."""
    runs = {name: json.load(open(path)) for name in folders if name in ORDER
            if os.path.exists(path := os.path.join(results, name, 'run.json'))}
    if not runs:
        return
    last = max(runs.values(), key=lambda run: run['finished'])
    lines = [f"Last offline run (`make reproduce`, {last['finished'][:10]}, {last['machine']}): "
             f"**{total / 60:.1f} min** for the five scripts (" + ', '.join(f"`{name}.py` {run['seconds'] / 60:.1f} min"
                                                  for name, run in runs.items()) + f"); report: [{out}]({out})."]
    suite = os.path.join(results, 'test_suite.json')
    if os.path.exists(suite):
        suite = json.load(open(suite))
        lines.append(f"Test suite (`make test`, {suite['finished'][:10]}): {suite['tests']} tests in "
                     f"**{suite['seconds'] / 60:.1f} min** with {suite['workers']} workers on {suite['machine']}.")
    replace_block(readme, 'measured', lines)


def parser():
    """The command line's parser (tests/test_docs.py checks the docs' command lines with it)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--results', default='results', help='folder of the scripts\' out_dirs')
    parser.add_argument('--out', default='visuals/README.md', help='the report (Markdown)')
    parser.add_argument('--readme', default='README.md',
                        help='the README whose measured block is rewritten ("" = none)')
    parser.add_argument('--command', default='make reproduce', help='the command whose run the report is of')
    parser.add_argument('--arms', default='', help="other results folders of the same study (comma-separated), whose "
                                                   "test_gpt2 verdicts are set beside these ones")
    parser.add_argument('--studies', action='store_true', help="only rewrite the README's study block from every "
                                                               "arm's archive (visuals/study*/data/)")
    return parser


if __name__ == '__main__':
    arguments = parser().parse_args()
    if arguments.studies:
        replace_block(arguments.readme, 'studies', study_block())
    else:
        write_report(arguments.results, arguments.out, arguments.readme, arguments.command,
                     [arm for arm in arguments.arms.split(',') if arm])
