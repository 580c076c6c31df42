"""The summaries and figures of the damage scripts, from their CSVs alone: each script calls its module at the end,
and `python -m robustness.analyze OUT_DIR` calls the same one later, with other analysis settings, loading no model.

    test_gpt2.py       -> robustness/analysis/test_gpt2.py      (perplexity.csv)
    run_glue_test.py   -> robustness/analysis/run_glue_test.py  (glue.csv)
    non_linear.py      -> robustness/analysis/non_linear.py     (nonlinear.csv)

What they share lives here: reading a CSV, a table of verdicts, intervals and levels in words.
"""

import json
import math
import os

import numpy as np
import pandas as pd

from robustness.results import read_rows  # noqa: F401 (the analyses read their CSV with it)
from robustness.stats import ALPHA, NOTHING_TO_LOSE, correct, verdict_text

QUESTIONS = {  # the question each script's results answer, which the report opens with
    'binary_classification': 'Linear multitask representations: does the error under noise follow the spectrum '
                             '(the theory), and does it fall with more tasks?',
    'non_linear': 'A ResNet backbone shared by T tasks: does accuracy under damage rise with T?',
    'train_bilingual_gpt2': 'Monolingual, bilingual and control GPT-2 models, trained with equal budgets.',
    'test_gpt2': 'Do bilingual GPT-2 models keep more of their English (bits per byte) under weight damage?',
    'run_glue_test': 'Fine-tuned on a task, does the bilingual model keep more accuracy under damage?',
}


def finite(value):
    """JSON has no NaN: None for a missing or undefined number."""
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


def verdict_table(rows, margin, wording, bounds=(-1.0, 1.0)):
    """Correct a table's rows ({name: {'test', 'reason', ...}}) together (Holm, robustness.stats.correct) and give
    each its verdict in words (`wording(name)` -> (text if higher, text if lower)). Returns the table's answer: how
    many comparisons were corrected for, how many verdicts of each kind, the smallest effect detectable with 80%
    power (median and range over the tested rows), and what the tests generalize over."""
    m = correct(rows, margin, bounds)
    for name, row in rows.items():
        row['verdict'] = verdict_text(row, *wording(name), margin)
        row['difference'] = row['test']['estimate'] if row['test'] else None
    counts = {outcome: sum(row['outcome'] == outcome for row in rows.values())
              for outcome in ('higher', 'lower', 'equivalent', 'inconclusive')}
    counts['no verdict'] = sum(row['outcome'] is None for row in rows.values())
    detectable = [row['detectable'] for row in rows.values() if row['detectable'] is not None]
    units = sorted({row['test']['unit'] for row in rows.values() if row['test']})
    return {'rows': len(rows), 'comparisons': m, 'alpha': ALPHA, 'margin': margin, 'counts': counts,
            'detectable': {'median': float(np.median(detectable)), 'min': min(detectable), 'max': max(detectable)}
            if detectable else None, 'units': units}


OUTCOME_WORDS = {'higher': 'more robust', 'lower': 'less robust', 'equivalent': 'equivalent', 'inconclusive': 'inconclusive',
                 'no verdict': 'without a test'}
TREND_WORDS = dict(OUTCOME_WORDS, higher='rises with T', lower='falls with T')


def counts_text(answer, words=OUTCOME_WORDS):
    """'2 more robust, 12 inconclusive': the verdicts of a table after the correction, the kinds that occur."""
    return ', '.join(f"{count} {words[outcome]}" for outcome, count in answer['counts'].items() if count) or 'none'


def pair_verdicts(summary, question):
    """The verdict table of the model pairs of `summary['comparisons']` ('a - b | ...' rows): the rows where a model
    has nothing to lose are listed, the table corrected and worded, its answer set, and its areas made JSON."""
    rows = summary['comparisons']
    summary['intact_at_floor'] = [name for name, row in rows.items() if row['reason'] == NOTHING_TO_LOSE]
    pair = lambda name: name.split(' | ')[0].split(' - ')
    summary['answer'] = dict(question=question, **verdict_table(
        rows, summary['equivalence_margin'], lambda name: (f'{pair(name)[0]} more robust than {pair(name)[1]}',
                                                           f'{pair(name)[0]} less robust than {pair(name)[1]}')))
    for row in rows.values():
        row['retained_area_a'] = [finite(x) for x in row['retained_area_a']]
        row['retained_area_b'] = [finite(x) for x in row['retained_area_b']]


def interval_text(ci, digits=4):
    """'[+0.0100, +0.0200]', or a statement that there is none."""
    return f"[{ci[0]:+.{digits}f}, {ci[1]:+.{digits}f}]" if ci else 'no interval'


def level_text(level, digits=3):
    """A half-failure level or crossover in words: 'not reached' when there is none within the grid."""
    return 'not reached' if level is None else f"{level:.{digits}f}"


def row_text(name, row):
    """One verdict row in a line: the verdict, the difference in retained area with its Holm-corrected interval."""
    if row['test'] is None:
        return f"  {name}: {row['verdict']}"
    return (f"  {name}: {row['verdict']}; difference in retained area {row['difference']:+.4f}, "
            f"{100 * (1 - row['holm_level']):.2f}% CI (Holm) {interval_text(row['ci'])}, p {row['test']['p']:.3g}, "
            f"over {row['test']['unit']}")


def write_summary(out_dir, summary):
    path = os.path.join(out_dir, 'summary.json')
    with open(path, 'w') as f:
        json.dump(summary, f, indent=2)
    print(f"wrote {path}")
