"""summary.json: what every analysis writes (write_summary), and how every reader loads it (read_summary), in the
current schema whichever schema it was written in: its tables as robustness.comparison.Comparison records.
"""

import json
import math
import os
from dataclasses import fields, is_dataclass

import numpy as np

from robustness.comparison import Comparison, from_record, record


def finite(value):
    """JSON has no NaN: None for a missing or undefined number."""
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


def plain(value):
    """A summary's values made JSON: a comparison as its record, numpy numbers as Python's, NaN as None, tuples as
    lists."""
    if is_dataclass(value):
        return plain(record(value))
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [plain(item) for item in value]
    if isinstance(value, (np.floating, float)):
        return finite(float(value))
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


# summary.json's schema. 2 gives each name one meaning: a row's half-failure levels are 'half_failure' (the summary's
# 'half_failure_level' is per model); what a test generalises over is its 'over' (a row's 'tested_over', a table's
# 'tested_over'), what a measure counts in its 'counted_in', and 'unit' is the score's alone (byte or token); the
# rule's sentence is 'rule'; the training's tokenizer design 'tokenization'. 3 holds every table as a list of
# comparison records (robustness.comparison) and every per-model map as a list of records with the model, kind and
# scope as fields, where 2 keyed them by names such as 'a - b | kind | scope'. An older summary is upgraded as it
# is read.
SCHEMA = 3
RENAMED_IN_2 = {'primary': 'rule', 'tokenizer': 'tokenization', 'test_unit': 'tested_over', 'units': 'tested_over'}
TABLES = ('confirmatory', 'comparisons', 'matched_quality', 'matched_quality_annealed', 'second_language')
BY_DAMAGE = ('half_failure_level', 'spread', 'both_languages')  # test_gpt2's and run_glue_test's per-model maps


def schema_2_name(key, item, holder):
    """The schema-2 name of a schema-1 key of the dict `holder`."""
    if key == 'half_failure_level' and isinstance(item, dict) and 'a' in item:
        return 'half_failure'  # a row's, of a and b
    if key == 'unit' and 'df' in holder:
        return 'over'  # a test's
    if key == 'unit' and 'available' in holder:
        return 'counted_in'  # a measure's
    return RENAMED_IN_2.get(key, key)


def schema_2(value):
    """A schema-1 summary's content under schema 2's names."""
    if isinstance(value, list):
        return [schema_2(item) for item in value]
    if not isinstance(value, dict):
        return value
    return {schema_2_name(key, item, value): schema_2(item) for key, item in value.items()}


def schema_2_identity(name, by_model=False):
    """The fields of a schema-2 name: a row's 'a - b | kind | scope[ | layers]', 'model: a - b | kind | scope' (two
    texts of one model) or 'kind | scope' (a trend over the number of tasks); a per-model entry's (`by_model`)
    'model | kind | scope[ | layers]'. The one place an old name is read."""
    parts = name.split(' | ')
    if by_model:
        return dict(zip(('model', 'kind', 'scope', 'layers'), parts))
    if len(parts) == 2:
        return dict(zip(('kind', 'scope'), parts))
    model, _, pair = parts[0].rpartition(': ')
    a, b = pair.split(' - ')
    return dict(a=a, b=b, kind=parts[1], scope=parts[2], **({'model': model} if model else {}),
                **({'layers': parts[3]} if len(parts) > 3 else {}))


def schema_3_row(name, row):
    """A schema-2 row as a comparison record: its fields by name, the rest described."""
    known = {item.name for item in fields(Comparison)}
    return dict(schema_2_identity(name), **{key: value for key, value in row.items() if key in known},
                described={key: value for key, value in row.items() if key not in known})


def schema_3(summary):
    """A schema-2 summary as schema 3: tables as lists of records, per-model maps as lists with the identity as
    fields (non_linear.py's task 0 and half-failure levels in the description of their row)."""
    summary = dict(summary)
    trend = summary.get('task_0') is not None
    for key in TABLES:
        if isinstance(summary.get(key), dict):
            summary[key] = [schema_3_row(name, row) for name, row in summary[key].items()]
    if trend:
        by_damage = lambda entries: {tuple(schema_2_identity(name).values()): entry for name, entry in entries.items()}
        halves, task_0 = by_damage(summary.pop('half_failure_level')), by_damage(summary.pop('task_0'))
        summary['comparisons'] = [dict(row, described=dict(
            row['described'], task_0=task_0.get((row['kind'], row['scope'])),
            half_failure_by_task_count=halves.get((row['kind'], row['scope'])))) for row in summary['comparisons']]
    for key in BY_DAMAGE:
        if isinstance(summary.get(key), dict):
            summary[key] = [dict(schema_2_identity(name, by_model=True), **entry)
                            for name, entry in summary[key].items() if entry is not None]
    if isinstance(summary.get('tasks'), dict):
        summary['tasks'] = [dict(dict(zip(('task', 'metric'), name.split(' | '))), **schema_3(table))
                            for name, table in summary['tasks'].items()]
    if isinstance(summary.get('matched_agreement'), dict):
        summary['matched_agreement'] = [dict(schema_2_identity(name), against_checkpoints=first,
                                             against_annealed=second)
                                        for name, (first, second) in summary['matched_agreement'].items()]
    return summary


def comparisons_of(summary):
    """A schema-3 summary's tables as comparison records."""
    summary = dict(summary)
    for key in TABLES:
        if summary.get(key) is not None:
            summary[key] = [from_record(row) for row in summary[key]]
    if summary.get('tasks'):
        summary['tasks'] = [comparisons_of(table) for table in summary['tasks']]
    return summary


def upgraded(summary):
    """An older summary's content in the current schema (before its rows become records)."""
    if summary.get('schema') is None:
        summary = schema_2(summary)
    if summary.get('schema', 2) == 2:
        summary = schema_3(summary)
    return dict(summary, schema=SCHEMA)


def read_summary(path):
    """A summary.json in the current schema, whichever schema it was written in, its rows comparison records."""
    with open(path) as f:
        summary = json.load(f)
    return comparisons_of(summary if summary.get('schema') == SCHEMA else upgraded(summary))


def write_summary(out_dir, summary):
    path = os.path.join(out_dir, 'summary.json')
    with open(path, 'w') as f:
        json.dump(plain(dict(summary, schema=SCHEMA)), f, indent=2)
    print(f"wrote {path}")
