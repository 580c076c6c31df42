"""The summaries, figures and report sections of the scripts, from their CSVs alone: each damage script calls its
module at the end, and `python -m robustness.analyze OUT_DIR` calls the same one later, with other analysis settings,
loading no model. Each module decides (`analyze`) and renders its script's report section (`render`, with the Markdown
of markdown.py); robustness/report.py assembles the sections.

    test_gpt2.py       -> robustness/analysis/test_gpt2.py      (perplexity.csv; its schema test_gpt2_csv.py, its
                          scores and one comparison test_gpt2_scores.py, matched quality test_gpt2_quality.py, its
                          figures test_gpt2_figures.py, its lm-eval task tables test_gpt2_tasks.py, its section
                          test_gpt2_report.py)
    run_glue_test.py   -> robustness/analysis/run_glue_test.py  (glue.csv)
    non_linear.py      -> robustness/analysis/non_linear.py     (nonlinear.csv)
    binary_classification.py, train_bilingual_gpt2.py -> their modules here render the summaries the scripts write

What they share lives here: a table of verdicts and its answer, rows, intervals and levels in words; summary.json's
schema in schema.py (read_summary, write_summary). Every verdict row of every summary.json is one record of
robustness.comparison.Comparison: what it compares (a, b, kind, scope, and model or layers where they apply), its
design, 'statistic' (its headline measure), 'estimate' and 'ci' (that measure's difference and interval at the row's
Holm level, 'confidence'), 'p' (the intersection-union p-value), 'outcome' (machine-readable: 'higher' or 'lower'
only where a direction is claimed), 'verdict' (in words), 'measures' (every measure's test, interval, sign and
margin) and 'described' (what is described, never decided).
"""

from dataclasses import replace

import numpy as np

from robustness.stats import ALPHA, OUTCOMES, RULE_POWER_DIFFERENCES, decide, detectable_difference, rule_power

QUESTIONS = {  # the question each script's results answer, which the report opens with
    'binary_classification': 'Linear multitask representations: does the error under noise follow the spectrum '
                             '(the theory), and does it fall with more tasks?',
    'non_linear': 'A ResNet backbone shared by T tasks: does accuracy under damage rise with T?',
    'train_bilingual_gpt2': 'Monolingual, bilingual and control GPT-2 models, trained with equal budgets.',
    'test_gpt2': 'Do bilingual GPT-2 models keep more of their English under weight damage?',
    'run_glue_test': 'Fine-tuned on a task, does the bilingual model keep more accuracy under damage?',
}
MEASURE_WORDS = {'retained_area': 'retained area', 'retained_area_untrained': 'retained area against the untrained '
                 'model', 'mean_excess': 'mean excess', 'mean_log_ratio': 'mean log ratio'}
OUTCOME_WORDS = {'higher': 'more robust', 'lower': 'less robust', 'equivalent': 'equivalent',
                 'within the margin': 'significant but within the margin', 'depends on the measure':
                 'depending on the measure', 'inconclusive': 'inconclusive', 'no verdict': 'without a test'}
TREND_WORDS = dict(OUTCOME_WORDS, higher='rises with T', lower='falls with T')


def signs_text(row, measures=None):
    """'retained area -, mean excess 0, ...': the sign of each measure's interval at the row's level."""
    return ', '.join(f"{MEASURE_WORDS[name]} {row.measures[name]['sign'] or 'n/a'}"
                     for name in measures or row.decided_by)


def decomposition_text(row):
    """Where the share-of-range and the absolute measures disagree, why, in words and numbers (stats.decompose):
    '' for a row without floors."""
    parts = row.described.get('decomposition')
    if not parts:
        return ''
    (la, lb), (ra, rb) = parts['share_lost'], parts['range']
    ratio = ra / rb
    size = ('a range of the same size' if abs(ratio - 1) < 0.005 else
            f"a {ratio:.2f}x {'larger' if ratio > 1 else 'smaller'} range")
    # whether the shares differ is their own measure's test (its interval at the row's level)
    if abs(la - lb) < 0.0005:
        share = 'the same share'
    elif row.measures.get('retained_area', {}).get('sign') == '0':
        share = f"about the same share ({la:.3f} against {lb:.3f})"
    else:
        share = f"a {'larger' if la > lb else 'smaller'} share ({la:.3f} against {lb:.3f})"
    return (f": a loses {share} of {size} ({ra:.3f} against {rb:.3f} in the score's unit); of b's excess loss over "
            f"a's, the share accounts for {parts['share_term']:+.3f} and the range for {parts['range_term']:+.3f}")


def verdict_text(row, higher, lower):
    """The verdict of a decided row in words: `higher`/`lower` for a direction, the other outcomes by name, with the
    measures' signs where they disagree and the reason where there is no test; a test over the draws of one model
    each says so."""
    outcome = row.outcome
    if outcome == 'no verdict':
        return f"no verdict: {row.reason}"
    direction = higher if all(row.measures[m]['sign'] == '+' for m in row.decided_by) else lower
    text = {'higher': higher, 'lower': lower, 'equivalent': "equivalent within every measure's margin",
            'within the margin': f"{direction}, but within every measure's margin",
            'depends on the measure': f"depends on the measure ({signs_text(row)})" + decomposition_text(row),
            'inconclusive': 'inconclusive'}[outcome]
    if outcome in ('higher', 'lower') and 'retained_area' not in row.decided_by:
        text += decomposition_text(row)  # the shape of the decline beside the direction: the share and the range
    return text + (' (these two trained models)' if row.tested_over.startswith('draws') else '')


def spread(values):
    """The median and range of a table's per-row numbers."""
    return {'median': float(np.median(values)), 'min': float(min(values)), 'max': float(max(values))}


def decide_table(rows, wording, alpha=ALPHA):
    """Decide a table's rows together (robustness.stats.decide: every declared measure, Holm over the rows) and give
    each its verdict in words (`wording(row)` -> (text if higher, text if lower)). Returns (the decided rows, new
    records; the table's answer: how many comparisons were corrected for, how many rows of each outcome, the smallest
    headline effect detectable with 80% power (median and range over the tested rows), what the tests generalize
    over, and the measures that decided, with any declared one the run did not measure)."""
    rows = [replace(row, verdict=verdict_text(row, *wording(row)), detectable=detectable_difference(row),
                    rule_power=rule_power(row)) for row in decide(rows, alpha)]
    detectable = [row.detectable for row in rows if row.detectable is not None]
    powers = [row.rule_power for row in rows if row.rule_power is not None]
    return rows, {
        'rows': len(rows), 'comparisons': sum(row.holm_level is not None for row in rows), 'alpha': alpha,
        'counts': {outcome: sum(row.outcome == outcome for row in rows) for outcome in OUTCOMES},
        'detectable': spread(detectable) if detectable else None,
        'rule_power': {str(d): spread([power[d] for power in powers]) for d in RULE_POWER_DIFFERENCES}
        if powers else None,
        'tested_over': sorted({row.tested_over for row in rows if row.tested_over}),
        'seed_correlation': [row.described['seed_correlation'] for row in rows
                             if row.described.get('seed_correlation') is not None],
        'decided_by': sorted({m for row in rows for m in row.decided_by}, key=list(MEASURE_WORDS).index),
        'headline': next((row.statistic for row in rows if row.holm_level is not None), None),
        'unavailable': sorted({m for row in rows for m in row.unavailable})}


def pair_wording(row):
    """('a more robust than b', 'a less robust than b') of a row a - b."""
    return f'{row.a} more robust than {row.b}', f'{row.a} less robust than {row.b}'


def counts_text(answer, words=OUTCOME_WORDS):
    """'2 more robust, 12 inconclusive': the verdicts of a table after the correction, the kinds that occur."""
    return ', '.join(f"{count} {words[outcome]}" for outcome, count in answer['counts'].items() if count) or 'none'


def interval_text(ci, digits=4):
    """'[+0.0100, +0.0200]', or a statement that there is none."""
    return f"[{ci[0]:+.{digits}f}, {ci[1]:+.{digits}f}]" if ci else 'no interval'


def level_text(level, digits=3):
    """A half-failure level or crossover in words: 'not reached' when there is none within the grid."""
    return 'not reached' if level is None else f"{level:.{digits}f}"


def row_text(row):
    """One verdict row in a line: the verdict, the headline difference with its Holm-corrected interval, the p-value
    of the intersection-union test."""
    if row.estimate is None or row.ci is None:
        return f"  {row.label}: {row.verdict}"
    return (f"  {row.label}: {row.verdict}; {MEASURE_WORDS[row.statistic]} {row.estimate:+.4f}, "
            f"{100 * row.confidence:.2f}% CI (Holm) {interval_text(row.ci)}, p {row.p:.3g} (every measure), "
            f"over {row.tested_over}")
