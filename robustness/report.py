"""The report of a run: every verdict and measured number, from the scripts' own output, never typed by hand.

    python -m robustness.report                 # results/*/ -> visuals/README.md (GitHub shows it beside the figures)
    python -m robustness.report --results=results --out=visuals/README.md

Each script writes out_dir/summary.json (its numbers and verdicts), out_dir/config.json (its settings) and
out_dir/run.json (robustness.provenance.record_run: its wall time, the machine, the versions, the figures it wrote). The
report lays them out: one section per script, with the tables of its summary, its wall time and configuration, and
its figures.
"""

import argparse
import datetime
import json
import math
import os

import numpy as np

from robustness.analysis import (MEASURE_WORDS, OUTCOME_WORDS, QUESTIONS, TREND_WORDS, counts_text, interval_text,
                                 level_text, read_summary, signs_text)
from robustness import study_map
from robustness.analysis.test_gpt2_figures import USES_CONTEXT
from robustness.analysis.test_gpt2_scores import UNIT_WORDS
from robustness.config import check
from robustness.provenance import figure_markdown, fingerprint

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


def answer(summary, key='answer', trend=False):
    """The generated paragraph that opens a table: its question, how many comparisons were corrected for, the
    verdicts of each kind after the correction, the rule (every declared measure), the smallest effect detectable
    with 80% power, and what the tests generalize over. Every number comes from the summary."""
    a = summary[key]
    counts = counts_text(a, TREND_WORDS if trend else OUTCOME_WORDS)
    text = (f"**{'Answer' if key == 'answer' else 'Answer to this table'}.** {a['question']} "
            f"The table makes {a['rows']} comparisons, {a['comparisons']} of them with a test; after Holm's correction "
            f"over those {a['comparisons']} (family-wise error {a['alpha']:.0%}), the verdicts are: {counts}.")
    if a['decided_by']:
        text += (" A direction is claimed only where every declared measure finds it ("
                 + ', '.join(MEASURE_WORDS[m] for m in a['decided_by']) + '); "equivalent" means every interval lies '
                 "within its measure's margin.")
    if a.get('unavailable'):
        text += (' Declared but not measured in this run, and left out of the decision: '
                 + ', '.join(MEASURE_WORDS[m] for m in a['unavailable']) + '.')
    if a.get('rule_power'):
        text += (" The rule's power, every declared measure at its row's Holm level, by parametric bootstrap from this "
                 "table's own per-seed values (each other measure shifted by as many of its standard deviations): "
                 + ', '.join(f"{100 * v['median']:.0f}% ({100 * v['min']:.0f}-{100 * v['max']:.0f}%) at a true "
                             f"difference of {float(d):g}" for d, v in a['rule_power'].items())
                 + f" in {MEASURE_WORDS[a.get('headline') or 'retained_area']} (median over the rows, range).")
    elif a['detectable']:
        found = a['detectable']
        headline = MEASURE_WORDS[a.get('headline') or 'retained_area']
        text += (f" The smallest difference in {headline if not trend else 'retained area over T'} "
                 f"that one measure's test detects with 80% power is about {found['median']:.3f} (median over the "
                 f"rows; {found['min']:.3f} to {found['max']:.3f}); the rule, which needs every measure, has less.")
    if a['tested_over']:
        text += ' The tests run over ' + ' and '.join(a['tested_over']) + '.'
        if a.get('seed_correlation'):
            found = a['seed_correlation']
            text += (" Paired, because the design pairs the models of a training seed (docs/statistics.md); the "
                     f"within-seed correlation of the headline measure is {np.median(found):+.2f} (median over the "
                     f"rows; {min(found):+.2f} to {max(found):+.2f}).")
        if any(replicates.startswith('draws') for replicates in a['tested_over']):
            text += (' A test over the draws of one trained model per side speaks for those two trained models, not '
                     'for their training recipe.')
    return text


def cell(entry, digits=3):
    """A measure's entry in a table cell: its difference and interval, its sign's verdict, or why it has none."""
    if entry is None:
        return 'n/a'
    if not entry['available']:
        return 'not measured'
    if entry['test'] is None:
        return 'no test'
    return f"{entry['test']['estimate']:+.{digits}f} {interval_text(entry['ci'], digits)}"


def verdict_rows(rows, measures, other=None):
    """A verdict row per comparison: its verdict, the intersection-union p, and a cell per measure (and per measure
    of the other unit)."""
    found = []
    for name, row in rows.items():
        cells = [cell(row['measures'].get(m)) for m in measures]
        if other:
            cells += [cell(row.get('other_unit', {}).get('measures', {}).get(m)) for m in other]
        matched_already = row.get('design', '').startswith('matched quality: the final models')
        found.append([name, row['verdict'] + (' (the final models: matched already)' if matched_already else ''),
                      'n/a' if row['p'] is None else f"{row['p']:.3g}",
                      'n/a' if row.get('confidence') is None else f"{100 * row['confidence']:.2f}%", *cells])
    return found


def render_verdicts(summary, rows, measures, unit_words=None, other=None):
    """The verdict table of `rows`: a column per measure (their differences, positive: a more robust, with intervals
    at the row's Holm level), then the description folded away."""
    header = ['comparison', 'verdict', 'p (every measure)', 'interval level',
              *(MEASURE_WORDS[m] + (f' ({unit_words})' if m == 'mean_excess' and unit_words else '')
                for m in measures)]
    if other:
        header += [f"{MEASURE_WORDS[m]} ({other[1]}; {other[2]})" for m in other[0]]
    text = table(header, verdict_rows(rows, measures, other[0] if other else None))
    margins = {}
    for row in rows.values():
        for m, entry in row['measures'].items():
            if entry['available']:
                margins.setdefault(m, []).append(entry['margin'])
    if margins:
        span = lambda values: f"±{min(values):.3g}" + (f" to ±{max(values):.3g}" if max(values) > min(values) else '')
        text += ('\n\n_Differences a - b, positive where a is more robust; each interval at its row\'s Holm level. '
                 'Equivalence margins: '
                 + ', '.join(f"{MEASURE_WORDS[m]} {span(values)}" for m, values in margins.items())
                 + ' (the mean excess\'s: relative_margin of each pair\'s intact score)._')
    described = [[name, half_failure_cell(row.get('half_failure')),
                  'none' if row.get('crossover') is None
                  else f"{row['crossover']:.3f} {interval_text(row['crossover_ci95'])}",
                  areas_cell(row['measures'].get('retained_area', {}).get('a', [])),
                  areas_cell(row['measures'].get('retained_area', {}).get('b', []))]
                 for name, row in rows.items() if 'crossover' in row]
    if described:
        text += ("\n\n<details><summary>description: half-failure levels, crossover, retained areas per training seed "
                 "(no verdicts)</summary>\n\n" + table(['comparison', 'half-failure level a, b, a - b [95% CI]',
                                                         'crossover [95% CI]', 'retained area of a, per seed', 'of b'],
                                                        described)
                 + f"\n\n{summary.get('secondary', '')}.\n\n</details>")
    return text


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
    text = (f"Intact accuracy (mean over tasks and training seeds): {intact}.\n\n"
            + render_verdicts(summary, summary['comparisons'], summary['measures'], 'accuracy')
            .replace('Differences a - b, positive where a is more robust',
                     f'Changes over T={counts[0]} to {counts[-1]} along the fitted line, positive where robustness '
                     f'rises with T')
            + f"\n\n_{summary['rule']}._")
    show = lambda entry: 'n/a' if not entry else level_text(entry['level'])
    described = [[name, 'n/a' if not same else f"{same['estimate']:+.4f} {interval_text(same['ci95'])}",
                  *(show(summary['half_failure_level'][name].get(str(T), summary['half_failure_level'][name].get(T)))
                    for T in counts)]
                 for name, same in summary['task_0'].items()]
    return text + ("\n\n<details><summary>description: task 0 alone, half-failure levels (no verdicts)</summary>\n\n"
                   + table(['kind / scope', 'task 0: change in retained area [95% CI]',
                            *(f'half-failure T={T}' for T in counts)], described)
                   + f"\n\n{summary['secondary']}.\n\n</details>")


def training_tables(summary):
    """Each model's held-out bits per byte, then what it saw: steps, schedule, tokens and bytes per language, the
    bytes per token of its tokenizer."""
    rows = [[model, f"{entry['mean']:.4f}", f"{entry['std']:.4f}", ', '.join(f"{v:.4f}" for v in entry['per_seed'])]
            for model, entry in summary['final_eval_bpb'].items()]
    text = table(['model', 'held-out English bpb, mean', 'std over training seeds', 'per seed'], rows)
    if summary.get('models'):
        seen = [[model, entry['steps'], entry['schedule'], f"{entry['tokenization']} ({entry['vocabulary']:,})",
                 ', '.join(f"{language} {value:.2f}" for language, value in entry['bytes_per_token'].items()),
                 f"{entry['en_tokens']:,.0f}", f"{entry['en_bytes']:,.0f}", f"{entry['lang2_tokens']:,.0f}",
                 f"{entry['lang2_bytes']:,.0f}"] for model, entry in summary['models'].items()]
        text += ('\n\nWhat each model saw (mean over its training seeds; the control reads the bilingual model\'s '
                 'English bytes):\n\n' + table(['model', 'steps', 'schedule', 'tokenizer (vocabulary)',
                                               'bytes per token', 'English tokens', 'English bytes',
                                               'second-language tokens', 'second-language bytes'], seen))
    return text


def glue_tables(summary):
    """Each classifier's intact score next to its floor, chance (a classifier near chance has nothing to lose), then
    the comparisons."""
    text = ''
    floor = summary.get('floor', summary.get('chance'))  # 'chance' in summaries written before 2026-12-06
    if summary.get('intact'):
        rows = [[model, f"{sum(seeds.values()) / len(seeds):.3f}",
                 ', '.join(f"{seed}: {value:.3f}" if seed else f"{value:.3f}" for seed, value in seeds.items())]
                for model, seeds in summary['intact'].items() if seeds]
        text = (f"Intact {summary['metric']} on task `{summary.get('task')}` (floor: the best constant predictor, "
                f"{floor:.3f}):\n\n" + table(['model', 'mean', 'per training seed'], rows) + '\n\n')
    return text + render_verdicts(summary, summary['comparisons'], summary['measures'], summary['metric'])




def facts_text(summary):
    """What the answer rests on, in words: each model's intact score in both units, the bytes per token of its
    tokenizer, its floors and range; where the verdicts change with the measure or the unit; the per-token picture
    (the paper's unit) against the per-byte one."""
    facts, unit = summary['facts'], summary['unit']
    other = 'token' if unit == 'byte' else 'byte'
    models = facts['models']
    lines = ['**What it rests on.** Intact on the primary text (`' + summary['texts'][0] + '`): ' + '; '.join(
        f"{model} {entry['intact_bpb']:.3f} bits per byte = {entry['intact_nats_per_token']:.3f} nats per token "
        f"(perplexity {math.exp(entry['intact_nats_per_token']):.1f}) at {entry['bytes_per_token']:.2f} bytes per token"
        for model, entry in models.items()) + '.']
    shared = [pair for pair, entry in facts['pairs'].items() if entry['same_tokenizer']]
    split = [pair for pair, entry in facts['pairs'].items() if not entry['same_tokenizer']]
    if shared:
        lines.append(f"{', '.join(shared)}: one tokenizer (the same tokens of the same text), so per token and per "
                     f"byte differ by one constant and give the same verdicts.")
    if split:
        lines.append(f"{', '.join(split)}: different tokenizers, so per-token scores are not comparable between them "
                     f"(the paper compared per-token perplexities of such models); the verdicts are "
                     f"{UNIT_WORDS[unit]}.")
    ranges = '; '.join(f"{model} " + ', '.join(f"{scope} {value:.3f}" for scope, value in entry['range_bpb'].items())
                       + (f" (untrained model: {entry['untrained_bpb']:.3f} bits per byte)"
                          if entry['untrained_bpb'] else '')
                       for model, entry in models.items())
    lines.append(f"Ranges, the scope zeroed minus intact, in bits per byte: {ranges}.")
    rows = summary['comparisons']
    depends = [name for name, row in rows.items() if row['outcome'] == 'depends on the measure']
    within = [name for name, row in rows.items() if row['outcome'] == 'within the margin']
    if depends:
        lines.append('The verdict depends on the measure in ' + '; '.join(
            f"`{name}` ({signs_text(row)})" for name, row in rows.items() if name in depends) + '.')
    if within:
        lines.append('Significant in every measure but within every margin: '
                     + ', '.join(f"`{n}`" for n in within) + '.')
    picture = summary['answer'].get('unit_picture')
    if picture:
        counts = picture['counts']
        describe = lambda u: ', '.join(f"{counts[u][sign]} {word}" for sign, word in
                                       (('+', 'a more robust'), ('-', 'a less robust'),
                                        ('0', 'undecided')) if counts[u][sign])
        lines.append(f"Mean excess per token (the paper's unit: the mean log perplexity ratio) against per byte, each "
                     f"at its row's level: per {'token' if unit == 'byte' else 'byte'}, {describe(other)}; per {unit}, "
                     f"{describe(unit)}." + (f" They disagree on {', '.join(f'`{n}`' for n in picture['disagree'])}."
                                             if picture['disagree'] else ' They agree on every row.'))
    changes = [name for name, row in rows.items() if row.get('unit_dependent')]
    if changes:
        lines.append('Rows whose direction changes with the unit: ' + ', '.join(f"`{n}`" for n in changes) + '.')
    spread = summary.get('spread') or {}
    if spread:
        ratios = [entry['draws'] / entry['seeds'] for entry in spread.values() if entry['seeds'] > 0]
        if ratios:
            lines.append(f"Spread at a damaged level: the draw-to-draw standard deviation of bits per byte is "
                         f"{np.median(ratios):.2f} of the seed-to-seed one (median over the rows; {min(ratios):.2f}-"
                         f"{max(ratios):.2f}): the " + ('training seeds dominate.' if np.median(ratios) < 1 else
                                                       'draws dominate.'))
    return ' '.join(lines)


def agreement_text(summary):
    """Where the matched-quality tables against checkpoints and against annealed models agree."""
    both = summary.get('matched_agreement') or {}
    if not both:
        return 'No row is decided in both matched-quality tables.'
    same = [name for name, (first, second) in both.items() if first == second]
    differ = [f"`{name}` ({OUTCOME_WORDS[first]} against checkpoints, {OUTCOME_WORDS[second]} against annealed "
              f"models)" for name, (first, second) in both.items() if first != second]
    return (f"The two tables agree on {len(same)} of the {len(both)} rows both decide"
            + (f"; they differ on {'; '.join(differ)}." if differ else '.'))


def gpt2_tables(summary):
    """What the verdicts rest on, how much each scope matters to each model (the regime they come from), then the
    three tables: the final models, matched quality, the second language."""
    unit, other = summary.get('unit', 'byte'), 'token' if summary.get('unit', 'byte') == 'byte' else 'byte'
    rows = []
    for model, scopes in summary.get('scope_cost', {}).items():
        for scope, cost in scopes.items():
            mean = lambda values: sum(values) / len(values)
            rows.append([model, scope, f"{mean(cost['intact']):.3f}", f"{mean(cost['zeroed']):.3f}",
                         f"{mean(cost['ratio']):.3f} ({min(cost['ratio']):.3f}-{max(cost['ratio']):.3f})",
                         len(cost['ratio'])])
    text = facts_text(summary) + '\n\n' if summary.get('facts', {}).get('models') else ''
    if rows:
        text += ("How much each scope matters: held-out bits per byte intact and with every weight of the scope zeroed "
                 "(the floor), mean over training seeds, and their ratio (mean, range). A scope whose ratio is close "
                 "to 1 costs the model little when destroyed, and its verdicts are read within that small range.\n\n"
                 + table(['model', 'scope', 'intact bpb', 'scope zeroed', 'ratio (range)', 'training seeds'], rows)
                 + '\n\n' + regime(summary['scope_cost']))
    measures = list(dict.fromkeys([*summary['measures'], 'retained_area', 'retained_area_untrained', 'mean_excess',
                                   'mean_log_ratio']))
    columns = (['mean_excess'], other, 'reported, not decisive')
    if summary.get('confirmatory'):
        text += (f"### {summary['confirmatory_answer']['question']}\n\n{answer(summary, 'confirmatory_answer')} "
                 "These rows were declared before the run (`confirmatory`, docs/statistics.md) and are tested at 5% "
                 "with Holm over them alone; the table below holds every row, these too, as exploratory.\n\n"
                 + render_verdicts(summary, summary['confirmatory'], measures, UNIT_WORDS[unit], columns)
                 + '\n\n### Every comparison (exploratory)\n\n')
    text += render_verdicts(summary, summary['comparisons'], measures, UNIT_WORDS[unit], columns)
    for key, answer_key, intro in (
            ('matched_quality', 'matched_quality_answer',
             'At matched intact quality: each reference model interpolated, '
             'per training seed, between its two checkpoints whose intact bits per byte bracket the other model\'s '
             '(never extrapolated); figure `gpt2_matched_quality.png`. A pair whose final models\' intact bits per '
             f"byte differ by at most {summary.get('matched_tolerance', 0) * 100:g}% (`matched_tolerance`) is matched "
             'already: its rows compare the final models and say so. The checkpoints are mid-schedule, '
             'their learning rate still high, where the final models are annealed: a confound of its own.'),
            ('matched_quality_annealed', 'matched_quality_annealed_answer',
             'Against annealed models: each reference interpolated, per training seed, between two models of its '
             'recipe annealed at other budgets (`annealed`; its final model the longest) whose intact bits per byte '
             'bracket the other model\'s: annealed against annealed. ' + agreement_text(summary)),
            ('second_language', 'second_language_answer', 'The second language: each first model of a pair on its '
             'primary text against its second one, per training seed (plain 95% intervals of the paired differences); '
             'positive: it keeps the primary text better. Described, not decided: the texts are in two scripts, '
             'whose bits per byte are not comparable (a Cyrillic letter is two bytes), nor are tokens across a '
             'tokenizer\'s two languages; a verdict needs a model trained on the second language alone as the '
             'reference. Figure `gpt2_second_language.png` shows the curves.')):
        if summary.get(key):
            text += (f"\n\n### {summary[answer_key]['question']}\n\n{answer(summary, answer_key)} {intro}\n\n"
                     + render_verdicts(summary, summary[key], measures, UNIT_WORDS[unit], columns))
    for name, task in (summary.get('tasks') or {}).items():
        intact = ', '.join(f"{model} {value:.3f}" for model, value in task['intact'].items())
        text += (f"\n\n### lm-eval: {name}\n\n{answer(task)} Intact (mean over training seeds): {intact}; floor: "
                 f"{task['floor']}; {'higher' if task['higher_is_better'] else 'lower'} is better.\n\n"
                 + render_verdicts(task, task['comparisons'], measures, name.split(' | ')[1]))
    if summary.get('both_languages'):
        text += ('\n\nWhat each bilingual model keeps over both languages together (retained area of its bits per byte '
                 'over both texts, against the floor over both; mean and per training seed): '
                 + '; '.join(f"`{name}` {entry['retained_area']:.3f} ({areas_cell(entry['per_seed'])})"
                             for name, entry in summary['both_languages'].items()) + '.')
    return text


def regime(costs):
    """Which regime the attention verdicts come from: a sentence on the attention cost of the models, and, where
    some model is below USES_CONTEXT, where to find models that use their context."""
    ratios = [ratio for scopes in costs.values() for ratio in scopes.get('attn', {}).get('ratio', [])]
    if not ratios:
        return ''
    text = (f"Zeroing all attention costs these models {min(ratios):.2f}-{max(ratios):.2f}x their intact bits per "
            f"byte. ")
    if min(ratios) < USES_CONTEXT:
        below = [model for model, scopes in costs.items()
                 if min(scopes.get('attn', {}).get('ratio', [math.inf])) < USES_CONTEXT]
        text += (f"Below {USES_CONTEXT}x ({', '.join(below)}) a model barely uses its context, and the verdicts on "
                 f"`attn` are read within that small range. `make study` trains its models until zeroing attention "
                 f"costs about {USES_CONTEXT}x or more (docs/study.md; its reports: visuals/study/README.md and "
                 f"visuals/study_own/README.md).")
    else:
        text += f"Every model and training seed is at or above {USES_CONTEXT}x: the models use their context."
    return text + '\n\n'


RENDER = {'binary_classification': binary_tables, 'non_linear': nonlinear_tables,
          'train_bilingual_gpt2': training_tables, 'test_gpt2': gpt2_tables, 'run_glue_test': glue_tables}


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
        lines += ['', RENDER[script](summary)]
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
    cell = lambda entry: 'n/a' if entry is None else (f"{entry['verdict']}" + (
        f" ({number(entry.get('estimate', entry.get('difference')))} {interval_text(entry['ci'])})"
        if entry.get('ci') else ''))
    rows = [[key, *(cell(summaries[name].get(key)) for name in designs)] for key in summaries['test_gpt2']]
    return table(['a - b / kind / scope',
                  *(f'`{name}`: verdict (difference in retained area, Holm-corrected CI)' for name in designs)], rows)


def excess_sign(row, unit):
    """The sign of a row's mean excess in `unit` ('+': a more robust), at the row's level; None where not measured."""
    if row.get('unit', 'byte') == unit:
        return row['measures'].get('mean_excess', {}).get('sign')
    return row.get('other_unit', {}).get('measures', {}).get('mean_excess', {}).get('sign')


def arms_section(arms):
    """The arms of a study side by side (`arms`: {name: test_gpt2 summary}): per comparison, each arm's verdict and
    the sign of its mean excess per token (the paper's unit) and per byte; then, in words, whether the effect the
    paper measured (a more robust per token) appears, and whether it survives one tokenizer and per-byte scoring."""
    names = list(next(iter(arms.values()))['comparisons'])
    header = ['comparison']
    for arm in arms:
        header += [f'`{arm}`: verdict', f'`{arm}`: mean excess per token, per byte']
    rows = []
    for name in names:
        cells = [name]
        for summary in arms.values():
            row = summary['comparisons'].get(name)
            cells += ['n/a', 'n/a'] if row is None else [row['verdict'], f"{excess_sign(row, 'token') or 'n/a'}, "
                                                                        f"{excess_sign(row, 'byte') or 'n/a'}"]
        rows.append(cells)
    words = []
    for arm, summary in arms.items():
        rows_of = summary['comparisons'].values()
        tested = [row for row in rows_of if row.get('holm_level') is not None]
        count = lambda unit: sum(excess_sign(row, unit) == '+' for row in tested)
        shared = all(entry['same_tokenizer'] for entry in summary.get('facts', {}).get('pairs', {}).values())
        claimed = sum(row['outcome'] == 'higher' for row in rows_of)
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
    words = OUTCOME_WORDS[row['outcome']]
    if row['outcome'] == 'within the margin':
        words = f"{'more' if row['estimate'] > 0 else 'less'} robust, within the margin"
    return f"**{words}**" + (f" ({row['estimate']:+.3f} {interval_text(row['ci'], 3)})" if row.get('ci') else '')


def arm_sentence(arm, summary):
    """One arm of `make study` in a sentence, from its archived test_gpt2 summary: the confirmatory rows first, then
    the verdicts of every row at final and at matched quality, and per token and per byte where the first model of a
    pair loses less (the arm's report has the rest)."""
    command = 'make study' + (f" STUDY_ARM={arm.removeprefix('study_')}" if arm != 'study' else '')
    shared = all(entry['same_tokenizer'] for entry in summary['facts']['pairs'].values())
    text = f"- [`{command}`](visuals/{arm}/README.md), {'one tokenizer' if shared else 'each model its own tokenizer'}"
    if summary.get('confirmatory'):
        text += (f". Confirmatory (Holm over {len(summary['confirmatory'])}): "
                 + '; '.join(f"`{name}` {row_words(row)}" for name, row in summary['confirmatory'].items()))
    tested = [row for row in summary['comparisons'].values() if row.get('holm_level') is not None]
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
        tests = '; '.join(f"{name}: {row['verdict']}" for name, row in found['tests'].items())
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
