"""Tidy CSV results: one row per measurement, appended and flushed as it is produced.

An interrupted sweep keeps every row it wrote, and a rerun skips the rows already there: a row is
identified by the values of its key columns.
"""

import csv
import os

import pandas as pd

from robustness.config import fail


NO_TRAIN_SEED = ''  # the train_seed of a single model (not one of a family folder's seed_<s>/ models)


class ResultsLog:
    """Append-only CSV with resume.

        log = ResultsLog('results/x/perplexity.csv', columns, key=('model', 'kind', 'level', 'repeat'))
        if not log.has(model='mono', kind='random_deletion', level=0.1, repeat=0):
            log.write({...})
    """

    def __init__(self, path, columns, key):
        self.path, self.columns, self.key = path, list(columns), tuple(key)
        self.done = set()
        if os.path.exists(path) and os.path.getsize(path) > 0:
            self._drop_incomplete_rows()
        if os.path.exists(path) and os.path.getsize(path) > 0:
            with open(path, newline='') as f:
                reader = csv.DictReader(f)
                if reader.fieldnames != self.columns:
                    fail(f"{path} has columns {reader.fieldnames}, expected {self.columns}; "
                                     f"move it away or choose another out_dir")
                self.done = {self._key(row) for row in reader}
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
        if len(lines) > 1 and len(next(csv.reader([lines[-1]]))) != len(self.columns):
            keep = ''.join(lines[:-1]).encode('utf-8')
        if keep != data:
            with open(self.path, 'r+b') as f:
                f.truncate(len(keep))
            print(f"{self.path}: dropped a last row cut short by an interrupted run; it is measured again")

    def _key(self, row):
        # Compare as text, the way the values come back from the file.
        return tuple(_text(row[name]) for name in self.key)

    def has(self, **key):
        return self._key(key) in self.done

    def write(self, row):
        self.write_rows([row])

    def write_rows(self, rows):
        with open(self.path, 'a', newline='') as f:
            csv.DictWriter(f, self.columns).writerows(rows)
            f.flush()
        self.done.update(self._key(row) for row in rows)

    def read(self):
        """The rows as a DataFrame. A `train_seed` column is text: '' (NO_TRAIN_SEED) for a single model."""
        if 'train_seed' in self.columns:
            return pd.read_csv(self.path, dtype={'train_seed': str}, keep_default_na=False,
                               na_values={c: ['', 'nan', 'NaN'] for c in self.columns if c != 'train_seed'})
        return pd.read_csv(self.path)

    def absorb(self, path):
        """Append the rows of the CSV at `path` (a worker's part file, same columns) that this log lacks, copied as
        text so that every value round-trips exactly, then delete that file."""
        with open(path, newline='') as f:
            self.write_rows([row for row in csv.DictReader(f) if not self.has(**row)])
        os.remove(path)


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
