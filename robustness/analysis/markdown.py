"""The Markdown every report section is written with: numbers, tables, a table's answer in words, and the verdict
table of a table's rows with its described part folded away. Each analysis (robustness/analysis/<script>.py) renders
its script's section with these; robustness/report.py assembles the sections.
"""

import numpy as np

from robustness.analysis import (MEASURE_WORDS, OUTCOME_WORDS, TREND_WORDS, counts_text, interval_text,
                                 level_text)


def number(value, digits=4):
    if value is None:
        return 'n/a'
    if isinstance(value, (int, float)):
        return f"{value:+.{digits}f}" if isinstance(value, float) else str(value)
    return str(value)


def table(header, rows):
    """A Markdown table; a '|' inside a cell (a comparison's display name, 'a - b | kind | scope') is escaped."""
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
    lines = []
    for row in rows:
        cells = [cell(row.measures.get(m)) for m in measures]
        if other:
            cells += [cell((row.other_unit or {}).get('measures', {}).get(m)) for m in other]
        matched_already = row.design.startswith('matched quality: the final models')
        lines.append([row.label, row.verdict + (' (the final models: matched already)' if matched_already else ''),
                      'n/a' if row.p is None else f"{row.p:.3g}",
                      'n/a' if row.confidence is None else f"{100 * row.confidence:.2f}%", *cells])
    return lines


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
    for row in rows:
        for m, entry in row.measures.items():
            if entry['available']:
                margins.setdefault(m, []).append(entry['margin'])
    if margins:
        span = lambda values: f"±{min(values):.3g}" + (f" to ±{max(values):.3g}" if max(values) > min(values) else '')
        text += ('\n\n_Differences a - b, positive where a is more robust; each interval at its row\'s Holm level. '
                 'Equivalence margins: '
                 + ', '.join(f"{MEASURE_WORDS[m]} {span(values)}" for m, values in margins.items())
                 + ' (the mean excess\'s: relative_margin of each pair\'s intact score)._')
    described = [[row.label, half_failure_cell(row.described.get('half_failure')),
                  'none' if row.described['crossover'] is None
                  else f"{row.described['crossover']:.3f} {interval_text(row.described['crossover_ci95'])}",
                  areas_cell(row.measures.get('retained_area', {}).get('a', [])),
                  areas_cell(row.measures.get('retained_area', {}).get('b', []))]
                 for row in rows if 'crossover' in row.described]
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
