"""Tidy CSV results: one row per measurement, appended and flushed as it is produced.

An interrupted sweep keeps every row it wrote, and a rerun skips the rows already there: a row is
identified by the values of its key columns. A file written before a column was added or renamed still reads
(`Table.added`, `Table.renamed`), and a log opened on it brings it to the current columns.
"""

import csv
import os
from dataclasses import dataclass, field

import pandas as pd

from robustness.config import fail


NO_TRAIN_SEED = ''  # the train_seed of a single model (not one of a family folder's seed_<s>/ models)


@dataclass(frozen=True)
class Table:
    """A tidy CSV's layout: its file name, its columns, the key columns that identify a row, and how a file written
    before reads: the columns added since (with their value in old rows) and the columns renamed (old: new)."""
    filename: str
    columns: tuple
    key: tuple
    added: dict = field(default_factory=dict)
    renamed: dict = field(default_factory=dict)

    def upgraded(self, header):
        """The current name of each column of an old file's `header`; None when it cannot be brought to the current
        columns."""
        names = [self.renamed.get(name, name) for name in header]
        if set(names) <= set(self.columns) and set(self.columns) - set(names) <= set(self.added):
            return names
        return None


class ResultsLog:
    """Append-only CSV with resume.

        log = ResultsLog('results/x/perplexity.csv', TABLE)   # TABLE: a Table (columns, key)
        if not log.has(model='mono', kind='random_deletion', level=0.1, repeat=0):
            log.write({...})
    """

    def __init__(self, path, table):
        self.path, self.table, self.columns, self.key = path, table, list(table.columns), tuple(table.key)
        self.done, self._prefixes = set(), {}
        if os.path.exists(path) and os.path.getsize(path) > 0:
            self._drop_incomplete_rows()
        if os.path.exists(path) and os.path.getsize(path) > 0:
            with open(path, newline='') as f:
                reader = csv.DictReader(f)
                rows, header = list(reader), reader.fieldnames
            if header != self.columns:
                rows = self._upgrade(header, rows)
            self.done = {self._key(row) for row in rows}
        else:
            os.makedirs(os.path.dirname(path) or '.', exist_ok=True)
            with open(path, 'w', newline='') as f:
                csv.writer(f).writerow(self.columns)

    def _drop_incomplete_rows(self):
        """A run killed in the middle of a write leaves a last row without its line end (or with too few fields):
        cut it off, so that a rerun measures it again instead of keeping a truncated number."""
        with open(self.path, 'rb') as f:
            data = f.read()
        keep = data if data.endswith(b'\n') else data[:data.rfind(b'\n') + 1]
        lines = keep.decode('utf-8').splitlines(keepends=True)
        fields = len(next(csv.reader([lines[0]]))) if lines else 0  # the file's own header: older columns too
        if len(lines) > 1 and len(next(csv.reader([lines[-1]]))) != fields:
            keep = ''.join(lines[:-1]).encode('utf-8')
        if keep != data:
            with open(self.path, 'r+b') as f:
                f.truncate(len(keep))
            print(f"{self.path}: dropped a last row cut short by an interrupted run; it is measured again")

    def _upgrade(self, header, rows):
        """Rewrite a file of older columns with the current ones (renamed, added with their old-row value)."""
        names = self.table.upgraded(header)
        if names is None:
            fail(f"{self.path} has columns {header}, expected {self.columns}; move it away or choose another out_dir")
        rows = [{**self.table.added, **{new: row[old] for old, new in zip(header, names)}} for row in rows]
        with open(self.path, 'w', newline='') as f:
            writer = csv.DictWriter(f, self.columns)
            writer.writeheader()
            writer.writerows(rows)
        print(f"{self.path}: brought to the current columns ({', '.join(sorted(set(self.columns) - set(names)))} "
              f"added)")
        return rows

    def _key(self, row):
        # Compare as text, the way the values come back from the file.
        return tuple(_text(row[name]) for name in self.key)

    def has(self, **key):
        return self._key(key) in self.done

    def has_prefix(self, **key):
        """Whether some row matches `key`, the values of the first len(key) key columns (a trial whose rows, one per
        task and metric, were written)."""
        n = len(key)
        if n not in self._prefixes:
            self._prefixes[n] = {done[:n] for done in self.done}
        return tuple(_text(key[name]) for name in self.key[:n]) in self._prefixes[n]

    def write(self, row):
        self.write_rows([row])

    def write_rows(self, rows):
        with open(self.path, 'a', newline='') as f:
            csv.DictWriter(f, self.columns).writerows(rows)
            f.flush()
        self.done.update(self._key(row) for row in rows)
        self._prefixes.clear()

    def read(self):
        return read_rows(self.path, self.table)

    def absorb(self, path):
        """Append the rows of the CSV at `path` (a worker's part file, same columns) that this log lacks, copied as
        text so that every value round-trips exactly, then delete that file."""
        with open(path, newline='') as f:
            self.write_rows([row for row in csv.DictReader(f) if not self.has(**row)])
        os.remove(path)


def read_rows(path, table=None):
    """A tidy CSV as a DataFrame: `train_seed` is text ('' for a single model, NO_TRAIN_SEED); a file of older
    columns reads with the current ones of `table`."""
    columns = pd.read_csv(path, nrows=0).columns
    frame = pd.read_csv(path, dtype={'train_seed': str}, keep_default_na=False,
                        na_values={c: ['', 'nan', 'NaN'] for c in columns if c != 'train_seed'})
    if table is not None and list(columns) != list(table.columns):
        names = table.upgraded(list(columns))
        if names is None:
            fail(f"{path} has columns {list(columns)}, expected {list(table.columns)}")
        frame = frame.set_axis(names, axis=1).assign(**{name: value for name, value in table.added.items()
                                                        if name not in names})[list(table.columns)]
    return frame


def _text(value):
    """Key text that is the same for a value and for its CSV round trip (0, 0.0 and '0.0' agree)."""
    if isinstance(value, bool):
        return str(value)
    try:
        return repr(round(float(value), 10))
    except (TypeError, ValueError):
        return str(value)


def mean_std(frame, by, value):
    """Mean, std and count of `value` over the rows of each group in `by` (std 0 for one row)."""
    stats = frame.groupby(list(by), sort=True)[value].agg(['mean', 'std', 'count']).reset_index()
    stats['std'] = stats['std'].fillna(0.0)
    return stats
