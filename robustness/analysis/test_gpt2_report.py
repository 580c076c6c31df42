"""test_gpt2.py's report section, from its summary.json: what the verdicts rest on (intact scores in both units, the
tokenizers, the floors and ranges, where the verdicts change with the measure or the unit), how much each scope
matters, then the tables: the confirmatory family, every comparison, matched quality (against checkpoints and against
annealed models), the second language, the lm-eval tasks.
"""

import math

import numpy as np

from robustness.analysis import OUTCOME_WORDS, signs_text
from robustness.analysis.markdown import answer, areas_cell, render_verdicts, table
from robustness.analysis.test_gpt2_figures import USES_CONTEXT
from robustness.analysis.test_gpt2_scores import UNIT_WORDS
from robustness.comparison import label_of


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
    depends = [row for row in rows if row.outcome == 'depends on the measure']
    within = [row for row in rows if row.outcome == 'within the margin']
    if depends:
        lines.append('The verdict depends on the measure in ' + '; '.join(
            f"`{row.label}` ({signs_text(row)})" for row in depends) + '.')
    if within:
        lines.append('Significant in every measure but within every margin: '
                     + ', '.join(f"`{row.label}`" for row in within) + '.')
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
    changes = [row.label for row in rows if row.unit_dependent]
    if changes:
        lines.append('Rows whose direction changes with the unit: ' + ', '.join(f"`{n}`" for n in changes) + '.')
    spread = summary.get('spread') or []
    if spread:
        ratios = [entry['draws'] / entry['seeds'] for entry in spread if entry['seeds'] > 0]
        if ratios:
            lines.append(f"Spread at a damaged level: the draw-to-draw standard deviation of bits per byte is "
                         f"{np.median(ratios):.2f} of the seed-to-seed one (median over the rows; {min(ratios):.2f}-"
                         f"{max(ratios):.2f}): the " + ('training seeds dominate.' if np.median(ratios) < 1 else
                                                       'draws dominate.'))
    return ' '.join(lines)


def agreement_text(summary):
    """Where the matched-quality tables against checkpoints and against annealed models agree."""
    both = summary.get('matched_agreement') or []
    if not both:
        return 'No row is decided in both matched-quality tables.'
    same = [row for row in both if row['against_checkpoints'] == row['against_annealed']]
    differ = [f"`{label_of(row)}` "
              f"({OUTCOME_WORDS[row['against_checkpoints']]} against checkpoints, "
              f"{OUTCOME_WORDS[row['against_annealed']]} against annealed models)"
              for row in both if row['against_checkpoints'] != row['against_annealed']]
    return (f"The two tables agree on {len(same)} of the {len(both)} rows both decide"
            + (f"; they differ on {'; '.join(differ)}." if differ else '.'))


def render(summary):
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
    for task in summary.get('tasks') or []:
        intact = ', '.join(f"{model} {value:.3f}" for model, value in task['intact'].items())
        text += (f"\n\n### lm-eval: {task['task']} | {task['metric']}\n\n{answer(task)} Intact (mean over training "
                 f"seeds): {intact}; floor: {task['floor']}; {'higher' if task['higher_is_better'] else 'lower'} is "
                 f"better.\n\n" + render_verdicts(task, task['comparisons'], measures, task['metric']))
    if summary.get('both_languages'):
        text += ('\n\nWhat each bilingual model keeps over both languages together (retained area of its bits per byte '
                 'over both texts, against the floor over both; mean and per training seed): '
                 + '; '.join(f"`{label_of(entry)}` "
                             f"{entry['retained_area']:.3f} ({areas_cell(entry['per_seed'])})"
                             for entry in summary['both_languages']) + '.')
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
