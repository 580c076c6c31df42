"""The report of a run: every verdict and measured number, from the scripts' own output, never typed by hand.

    python -m robustness.report                 # results/*/ -> visuals/README.md (GitHub shows it beside the figures)
    python -m robustness.report --results=results --out=visuals/README.md

Each script writes out_dir/summary.json (its numbers and verdicts), out_dir/config.json (its settings) and
out_dir/run.json (robustness.provenance.record_run: its wall time, the machine, the versions, the figures it wrote). The report lays
them out: one section per script, with the tables of its summary, its wall time and configuration, and its figures.
"""

import argparse
import datetime
import json
import os

from robustness.analysis import QUESTIONS, OUTCOME_WORDS, TREND_WORDS, counts_text, interval_text, level_text
from robustness.analysis.test_gpt2 import USES_CONTEXT

ORDER = ['binary_classification', 'non_linear', 'train_bilingual_gpt2', 'test_gpt2', 'run_glue_test']


def number(value, digits=4):
    if value is None:
        return 'n/a'
    if isinstance(value, (int, float)):
        return f"{value:+.{digits}f}" if isinstance(value, float) else str(value)
    return str(value)


def table(header, rows):
    """A Markdown table; a '|' inside a cell (the 'a - b | kind | scope' names) is escaped."""
    cells = lambda row: ' | '.join(str(cell).replace('|', '\\|') for cell in row)
    return '\n'.join([f'| {cells(header)} |', '|' + '---|' * len(header)] + [f'| {cells(row)} |' for row in rows])


def answer(summary, trend=False):
    """The generated paragraph that opens an experiment: its question, how many comparisons were corrected for, the
    verdicts of each kind after the correction, the smallest effect detectable with 80% power, and what the tests
    generalize over. Every number comes from the summary's `answer`."""
    a = summary['answer']
    counts = counts_text(a, TREND_WORDS if trend else OUTCOME_WORDS)
    text = (f"**Answer.** {a['question']} The table makes {a['rows']} comparisons, {a['comparisons']} of them with a test; "
            f"after Holm's correction over those {a['comparisons']} (family-wise error {a['alpha']:.0%}), the verdicts "
            f"are: {counts}. Equivalence means the corrected interval lies within ±{a['margin']:g} of retained "
            "area.")
    if a['detectable']:
        text += (f" The smallest difference in retained area this design detects with 80% power is about "
                 f"{a['detectable']['median']:.3f} (median over the rows; {a['detectable']['min']:.3f} to "
                 f"{a['detectable']['max']:.3f}).")
    if a['units']:
        text += ' The tests run over ' + ' and '.join(a['units']) + '.'
        if any(unit.startswith('draws') for unit in a['units']):
            text += (' A test over the draws of one trained model per side speaks for those two trained models, not '
                     'for their training recipe.')
    return text


def detectable_cell(row):
    return 'n/a' if row['detectable'] is None else f"{row['detectable']:.3f}"


def ci_cell(row):
    if row['ci'] is None:
        return 'n/a'
    return f"{interval_text(row['ci'])} at {100 * (1 - row['holm_level']):.2f}%"


def comparison_table(summary):
    """test_gpt2 and run_glue_test: the answer, a verdict row per pair x kind x scope (x layers), then the
    description (half-failure levels, crossover, retained areas) folded away."""
    rows, details = [], []
    for name, row in summary.get('comparisons', {}).items():
        test = row['test']
        rows.append([name, row['verdict'], number(row['difference']), ci_cell(row),
                     f"{test['p']:.3g}" if test else 'n/a', detectable_cell(row),
                     f"{row['training_seeds'][0]}, {row['training_seeds'][1]} x {row['repeats']}"])
        details.append([name, half_failure_cell(row['half_failure_level']),
                        'none' if row['crossover'] is None else f"{row['crossover']:.3f} {interval_text(row['crossover_ci95'])}",
                        areas_cell(row['retained_area_a']), areas_cell(row['retained_area_b'])])
    verdicts = table(['a - b / kind / scope', 'verdict', 'difference in retained area', 'Holm-corrected CI',
                      'p', 'detectable (80%)', 'training seeds x draws'], rows)
    return (f"{verdicts}\n\n_{summary.get('primary', '')}. Each interval is at its row's Holm level, "
            "so it excludes 0 exactly when the verdict names a direction._\n\n<details><summary>description: "
            "half-failure levels, crossover, retained areas per training seed (no verdicts)</summary>\n\n"
            + table(['a - b / kind / scope', 'half-failure level a, b, a - b [95% CI]', 'crossover [95% CI]',
                     'retained area of a, per seed', 'of b'], details)
            + f"\n\n{summary.get('secondary', '')}.\n\n</details>")


def areas_cell(values):
    return ', '.join('n/a' if v is None else f"{v:.3f}" for v in values)


def half_failure_cell(half):
    if not half:
        return 'n/a'
    cell = f"{level_text(half['a'])}, {level_text(half['b'])}"
    if half.get('difference') is not None:
        cell += f", {half['difference']:+.3f} {interval_text(half.get('difference_ci95'), 3)}"
    return cell


def binary_tables(summary):
    rows = []
    for T, entry in summary['num_tasks'].items():
        theory = entry['additive_noise_theory']
        rows.append([T, f"{entry['slope']:.3f}", f"{entry['intact_mse']:.4f}",
                     f"{100 * entry.get('max_relative_standard_error', {}).get('gaussian_noise', float('nan')):.1f}%",
                     f"{100 * theory.get('max_relative_deviation', float('nan')):.1f}%",
                     f"{theory.get('max_deviation_in_standard_errors', float('nan')):.1f}"])
    return table(['T', 'slope ||S_k||²/T', 'intact mse', 'gaussian noise: largest SE / mean',
                  'largest deviation from the theory', 'in standard errors'], rows)


def nonlinear_tables(summary):
    intact = ', '.join(f"T={T}: {value:.3f}" for T, value in summary['intact_accuracy'].items() if value is not None)
    counts = summary['task_counts']
    rows = [[name, row['verdict'], number(row['difference']), ci_cell(row), f"{row['test']['p']:.3g}" if row['test'] else 'n/a',
             detectable_cell(row),
             ', '.join(f"{sum(v for v in values if v is not None) / max(len(values), 1):.3f}"
                       for values in (row.get('retained_area') or {}).values())]
            for name, row in summary['comparisons'].items()]
    text = (f"Intact accuracy (mean over tasks and training seeds): {intact}.\n\n"
            + table(['kind / scope', 'verdict', f'change in retained area, T={counts[0]} to {counts[-1]}',
                     'Holm-corrected CI', 'p', 'detectable (80%)', f"mean retained area, T={', '.join(map(str, counts))}"], rows)
            + f"\n\n_{summary['primary']}._")
    show = lambda entry: 'n/a' if not entry else level_text(entry['level'])
    described = [[name, 'n/a' if not same else f"{same['estimate']:+.4f} {interval_text(same['ci95'])}",
                  *(show(summary['half_failure_level'][name].get(str(T), summary['half_failure_level'][name].get(T))) for T in counts)]
                 for name, same in summary['task_0'].items()]
    return text + ("\n\n<details><summary>description: task 0 alone, half-failure levels (no verdicts)</summary>\n\n"
                   + table(['kind / scope', 'task 0: change in retained area [95% CI]',
                            *(f'half-failure T={T}' for T in counts)], described)
                   + f"\n\n{summary['secondary']}.\n\n</details>")


def training_tables(summary):
    rows = [[model, f"{entry['mean']:.4f}", f"{entry['std']:.4f}", ', '.join(f"{v:.4f}" for v in entry['per_seed'])]
            for model, entry in summary['final_eval_bpb'].items()]
    return table(['model', 'held-out English bpb, mean', 'std over training seeds', 'per seed'], rows)


def glue_tables(summary):
    """Each classifier's intact score next to chance (a classifier near chance has nothing to lose), then the
    comparisons."""
    text = ''
    if summary.get('intact'):
        rows = [[model, f"{sum(seeds.values()) / len(seeds):.3f}", ', '.join(f"{seed}: {value:.3f}" if seed else f"{value:.3f}" for seed, value in seeds.items())]
                for model, seeds in summary['intact'].items() if seeds]
        text = (f"Intact {summary['metric']} on task `{summary.get('task')}` (best constant predictor "
                f"{summary['chance']:.3f}):\n\n" + table(['model', 'mean', 'per training seed'], rows) + '\n\n')
    return text + comparison_table(summary)


def gpt2_tables(summary):
    """How much each scope matters to each model (the regime the verdicts come from), then the comparisons."""
    rows = []
    for model, scopes in summary.get('scope_cost', {}).items():
        for scope, cost in scopes.items():
            mean = lambda values: sum(values) / len(values)
            rows.append([model, scope, f"{mean(cost['intact']):.3f}", f"{mean(cost['zeroed']):.3f}",
                         f"{mean(cost['ratio']):.3f} ({min(cost['ratio']):.3f}-{max(cost['ratio']):.3f})",
                         len(cost['ratio'])])
    text = ''
    if rows:
        text = ("How much each scope matters: held-out bits per byte intact and with every weight of the scope zeroed "
                "(the floor), mean over training seeds, and their ratio (mean, range). A scope whose ratio is close to "
                "1 costs the model little when destroyed, and its verdicts are read within that small range.\n\n"
                + table(['model', 'scope', 'intact bpb', 'scope zeroed', 'ratio (range)', 'training seeds'], rows)
                + '\n\n' + regime(summary['scope_cost']))
    return text + comparison_table(summary)


def regime(costs):
    """Which regime the attention verdicts come from: a sentence on the attention cost of the models, and, where
    some model is below USES_CONTEXT, where to find models that use their context."""
    ratios = [ratio for scopes in costs.values() for ratio in scopes.get('attn', {}).get('ratio', [])]
    if not ratios:
        return ''
    text = (f"Zeroing all attention costs these models {min(ratios):.2f}-{max(ratios):.2f}x their intact bits per "
            f"byte. ")
    if min(ratios) < USES_CONTEXT:
        text += (f"Below {USES_CONTEXT}x a model barely uses its context, and the verdicts on `attn` are read within "
                 f"that small range. `make study` asks the question of models where zeroing attention costs at least "
                 f"{USES_CONTEXT}x (docs/study.md; its report: visuals/study/README.md).")
    else:
        text += f"Every model and training seed is at or above {USES_CONTEXT}x: the models use their context."
    return text + '\n\n'


RENDER = {'binary_classification': binary_tables, 'non_linear': nonlinear_tables,
          'train_bilingual_gpt2': training_tables, 'test_gpt2': gpt2_tables, 'run_glue_test': glue_tables}


def section(name, folder, report_dir):
    read = lambda filename: json.load(open(os.path.join(folder, filename))) \
        if os.path.exists(os.path.join(folder, filename)) else None
    summary, config, run = read('summary.json'), read('config.json'), read('run.json')
    script = run['script'].removesuffix('.py') if run else name  # an extra out_dir names its script in run.json
    title = f"{script}.py" + (f" (`{folder}`)" if script != name else '')
    lines = [f"## {title}", '', answer(summary, trend=script == 'non_linear') if summary and 'answer' in summary
             else QUESTIONS.get(script, '')]
    if run:
        at = lambda record: (f"commit `{record['commit'][:10]}`" + (' with uncommitted changes' if record['dirty'] else '')
                             if record.get('commit') else 'no commit')
        redone = run.get('analysis')
        lines += ['', f"Wall time **{run['seconds'] / 60:.1f} min** ({run['seconds']:.0f} s), finished {run['finished']} "
                      f"on {run['machine']}; Python {run['python']}, torch {run['torch']}; {at(run)}"
                      + (f"; summary and figures redone from the CSV on {redone['finished'][:10]} at {at(redone)}"
                         if redone else '') + '.']
    if summary and script in RENDER:
        lines += ['', RENDER[script](summary)]
        if summary.get('note'):
            lines += ['', summary['note']]
    for figure in (run or {}).get('figures', []):
        lines += ['', f"![{os.path.basename(figure)}]({os.path.relpath(figure, report_dir)})"]
    if config:
        shown = ', '.join(f"`{key}={','.join(map(str, value)) if isinstance(value, list) else value}`"
                          for key, value in config.items())
        lines += ['', f"<details><summary>configuration</summary>\n\n{shown}\n\n</details>"]
    return '\n'.join(lines)


def write_report(results='results', out='visuals/README.md', readme='README.md', command='make reproduce'):
    folders = [name for name in ORDER if os.path.isdir(os.path.join(results, name))]
    folders += sorted(name for name in os.listdir(results) if name not in folders
                      and os.path.exists(os.path.join(results, name, 'run.json'))) if os.path.isdir(results) else []
    report_dir = os.path.dirname(out) or '.'
    total = sum(json.load(open(path))['seconds'] for name in folders if name in ORDER
                and os.path.exists(path := os.path.join(results, name, 'run.json')))
    parts = ['# Report of the last run' + (f" of `{command}`" if command != 'make reproduce' else ''),
             f"Generated by `python -m robustness.report` from `{results}/*/` (summary.json, config.json, run.json) on "
             f"{datetime.date.today().isoformat()}; every number below was written by the scripts themselves. "
             f"The scripts of `{command}` took **{total / 60:.1f} min** together"
             + ("; other out_dirs (such as `make finetune`'s) follow them." if set(folders) - set(ORDER) else '.')]
    parts += [section(name, os.path.join(results, name), report_dir) for name in folders]
    designs = designs_table(results, folders)
    if designs:
        parts += ['## The designs side by side', '', 'The verdicts of `test_gpt2.py` on the models of each design: '
                  'the offline default trains every model from scratch; other out_dirs hold other designs (`make '
                  "finetune`: the paper's, each training seed's three models fine-tuned from an English base of its "
                  "own, trained with that seed, so that the intervals over the training seeds cover the base's "
                  'training as well as the fine-tuning).', '', designs]
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
    summaries = {name: json.load(open(os.path.join(results, name, 'summary.json')))['comparisons'] for name in designs}
    cell = lambda entry: 'n/a' if entry is None else (f"{entry['verdict']}" + (
        f" ({number(entry['difference'])} {interval_text(entry['ci'])})" if entry.get('ci') else ''))
    rows = [[key, *(cell(summaries[name].get(key)) for name in designs)] for key in summaries['test_gpt2']]
    return table(['a - b / kind / scope', *(f'`{name}`: verdict (difference in retained area, Holm-corrected CI)' for name in designs)], rows)


def update_readme(readme, results, folders, total, out):
    """Rewrite the README's measured block (between its markers) from run.json and test_suite.json."""
    runs = {name: json.load(open(path)) for name in folders if name in ORDER
            if os.path.exists(path := os.path.join(results, name, 'run.json'))}
    if not runs:
        return
    last = max(runs.values(), key=lambda run: run['finished'])
    lines = [f"Last offline run (`make reproduce`, {last['finished'][:10]}, {last['machine']}): **{total / 60:.1f} min** "
             f"for the five scripts (" + ', '.join(f"`{name}.py` {run['seconds'] / 60:.1f} min"
                                                  for name, run in runs.items()) + f"); report: [{out}]({out})."]
    suite = os.path.join(results, 'test_suite.json')
    if os.path.exists(suite):
        suite = json.load(open(suite))
        lines.append(f"Test suite (`make test`, {suite['finished'][:10]}): {suite['tests']} tests in "
                     f"**{suite['seconds'] / 60:.1f} min** with {suite['workers']} workers on {suite['machine']}.")
    text = open(readme).read()
    begin, end = '<!-- measured:begin -->', '<!-- measured:end -->'
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        text = head + begin + '\n' + '\n'.join(lines) + '\n' + end + rest.split(end, 1)[1]
        with open(readme, 'w') as f:
            f.write(text)
        print(f"updated the measured block of {readme}")


if __name__ == '__main__':
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--results', default='results', help='folder of the scripts\' out_dirs')
    parser.add_argument('--out', default='visuals/README.md', help='the report (Markdown)')
    parser.add_argument('--readme', default='README.md', help='the README whose measured block is rewritten ("" = none)')
    parser.add_argument('--command', default='make reproduce', help='the command whose run the report is of')
    arguments = parser.parse_args()
    write_report(arguments.results, arguments.out, arguments.readme, arguments.command)
