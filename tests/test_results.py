"""robustness/results.py: the tidy CSV that a run appends to and resumes from, rows cut short by a kill, files of
older columns that still read."""

import pandas as pd
import pytest

from robustness.config import ConfigError
from robustness.results import ResultsLog, Table, read_rows

TABLE = Table('x.csv', ('model', 'kind', 'scope', 'layers', 'level', 'repeat', 'value'),
              key=('model', 'kind', 'scope', 'layers', 'level', 'repeat'))


def test_results_log_resumes_and_keys_numbers_by_value(tmp_path):
    table = Table('r.csv', ('model', 'level', 'repeat', 'value'), key=('model', 'level', 'repeat'))
    path = tmp_path / 'out' / 'r.csv'
    log = ResultsLog(str(path), table)
    log.write({'model': 'mono', 'level': 0.1, 'repeat': 0, 'value': 1.5})
    log.write({'model': 'mono', 'level': 0, 'repeat': 1, 'value': 2.5})
    again = ResultsLog(str(path), table)
    assert again.has(model='mono', level=0.1, repeat=0) and again.has(model='mono', level=0.0, repeat=1)
    assert not again.has(model='bi', level=0.1, repeat=0) and again.has_prefix(model='mono', level=0.1)
    assert again.read()['value'].tolist() == [1.5, 2.5]
    with pytest.raises(ConfigError, match='has columns') as error:  # a file of other columns: one line, catchable
        ResultsLog(str(path), Table('r.csv', ('model', 'x'), ('model',)))
    assert isinstance(error.value, ValueError) and error.value.code == f"error: {error.value}"


def test_truncated_row_with_a_line_end_is_dropped_too(tmp_path):
    path = tmp_path / 'x.csv'
    path.write_text(','.join(TABLE.columns) + '\nm,random_deletion,attn,all,0.5,0,1.5\nm,random_deletion,attn\n')
    log = ResultsLog(str(path), TABLE)
    assert log.has(model='m', kind='random_deletion', scope='attn', layers='all', level=0.5, repeat=0)
    assert path.read_text().count('\n') == 2 and len(log.done) == 1


def test_a_file_of_older_columns_reads_and_is_brought_up_to_date(tmp_path):
    """A column added since (its value in old rows given) and one renamed: the old file reads with the current
    columns, and a log opened on it rewrites it so, keeping every row."""
    table = Table('g.csv', ('model', 'text', 'level', 'floor', 'value'), key=('model', 'text', 'level'),
                  added={'text': 'en'}, renamed={'baseline': 'floor'})
    path = tmp_path / 'g.csv'
    path.write_text('model,level,baseline,value\nm,0.0,0.5,1.0\nm,0.5,0.5,2.0\n')
    frame = read_rows(str(path), table)
    assert list(frame.columns) == list(table.columns) and frame['text'].tolist() == ['en', 'en']
    assert frame['floor'].tolist() == [0.5, 0.5] and path.read_text().startswith('model,level,baseline')  # read only
    log = ResultsLog(str(path), table)
    assert log.has(model='m', text='en', level=0.5) and path.read_text().startswith('model,text,level,floor,value')
    pd.testing.assert_frame_equal(read_rows(str(path), table), frame)


def test_a_summary_of_the_first_schema_reads_under_the_current_names(tmp_path):
    """summary.json is versioned: one written before the schema had a number reads with today's names (a row's
    half-failure levels 'half_failure', the rule 'rule', the tokenization) and today's records (a row is a comparison
    whose fields say what it compares; a per-model map a list), and what write_summary writes reads back unchanged."""
    import json
    from robustness.analysis.schema import SCHEMA, read_summary, write_summary
    from robustness.comparison import Comparison
    old = {'primary': 'every measure ...', 'tokenizer': 'shared',
           'half_failure_level': {'bilingual | random_deletion | attn': {'level': 0.4, 'reached': True}},
           'comparisons': {'bilingual - monolingual | random_deletion | attn': {
               'outcome': 'equivalent', 'half_failure_level': {'a': 0.4, 'b': 0.3, 'difference': 0.1},
               'unit': 'byte', 'test_unit': 'training seeds', 'measures': {'mean_excess': {
                   'unit': 'score', 'available': True, 'test': {'estimate': 0.1, 'df': 8, 'unit': 'training seeds'}}}}},
           'second_language': {'bilingual: en - uk | random_deletion | attn': {'outcome': 'no verdict'}},
           'answer': {'units': ['training seeds']},
           'models': {'bilingual': {'tokenizer': 'shared', 'steps': 8}}}
    (tmp_path / 'summary.json').write_text(json.dumps(old))
    read = read_summary(tmp_path / 'summary.json')
    assert read['schema'] == SCHEMA and read['rule'] == 'every measure ...' and read['tokenization'] == 'shared'
    assert read['half_failure_level'] == [{'model': 'bilingual', 'kind': 'random_deletion', 'scope': 'attn',
                                           'level': 0.4, 'reached': True}]  # per model, its name now fields
    (row,) = read['comparisons']
    assert isinstance(row, Comparison) and row.identity == (None, 'bilingual', 'monolingual', 'random_deletion', 'attn',
                                                            None)
    assert row.label == 'bilingual - monolingual | random_deletion | attn'  # as the reports show it, as before
    assert row.described == {'half_failure': {'a': 0.4, 'b': 0.3, 'difference': 0.1}, 'unit': 'byte'}
    assert row.outcome == 'equivalent' and row.tested_over == 'training seeds'  # the replicates
    assert row.measures['mean_excess'] == {'counted_in': 'score', 'available': True,
                                           'test': {'estimate': 0.1, 'df': 8, 'over': 'training seeds'}}
    (language,) = read['second_language']
    assert (language.model, language.a, language.b, language.kind) == ('bilingual', 'en', 'uk', 'random_deletion')
    assert read['answer'] == {'tested_over': ['training seeds']}
    assert read['models']['bilingual'] == {'tokenization': 'shared', 'steps': 8}
    (tmp_path / 'new').mkdir()
    write_summary(tmp_path / 'new', read)
    assert read_summary(tmp_path / 'new' / 'summary.json') == read
