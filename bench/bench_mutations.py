"""A small mutation pass over robustness/kinds.py and robustness/stats.py: each mutation is one line changed so that a
result changes; a scratch copy of the repository gets it, and the tests that cover the file run there (stopping at
the first failure). A mutation the tests do not notice survives: the table names it.

    python bench/bench_mutations.py                       # every mutation (about 10 min on 2 cores)
    python bench/bench_mutations.py --only=kinds          # those of one file
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from robustness.config import configure, settings_checked  # noqa: E402

# -----------------------------------------------------------------------------
only = ''                  # kinds or stats: the mutations of that file alone ('' = both)
# -----------------------------------------------------------------------------
configure(globals())
settings_checked()

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TESTS = {'kinds': ['tests/test_kinds.py', 'tests/test_perturb.py', 'tests/test_sweep.py'],
         'stats': ['tests/test_stats.py']}
# (file, what the mutation does, the line's text, its mutated text); each text occurs once in its file
MUTATIONS = [
    ('kinds', 'magnitude pruning prunes a weight at amount 0',
     "flat.masked_fill_(smallest_mask(flat.abs(), round(amount * flat.numel())), 0)",
     "flat.masked_fill_(smallest_mask(flat.abs(), max(1, round(amount * flat.numel()))), 0)"),
    ('kinds', 'random deletion declared deterministic (one draw a level)',
     "Kind('random_deletion', random_deletion, 0.0, 1.0, False,", "Kind('random_deletion', random_deletion, 0.0, 1.0, True,"),
    ('kinds', 'random deletion deletes the complement',
     "w.masked_fill_(uniform(generator(name), w.shape, w.device) < amount, 0)",
     "w.masked_fill_(uniform(generator(name), w.shape, w.device) > amount, 0)"),
    ('kinds', 'Gaussian noise with the variance as its std',
     "w.add_(torch.randn(w.shape, generator=generator(name), device=w.device, dtype=w.dtype), alpha=amount)",
     "w.add_(torch.randn(w.shape, generator=generator(name), device=w.device, dtype=w.dtype), alpha=amount ** 2)"),
    ('kinds', 'N:M pruning prunes one fewer a group',
     "pruned = groups.masked_fill(smallest_per_row(groups.abs(), round(amount * group)), 0)",
     "pruned = groups.masked_fill(smallest_per_row(groups.abs(), round(amount * group) - 1), 0)"),
    ('kinds', 'Wanda without the activation norms',
     "scores = weights.abs().float() * norms[module].to(weights.device)[None, :]",
     "scores = weights.abs().float()"),
    ('kinds', 'a deterministic kind measured at every draw',
     "return 1 if self.deterministic else repeats", "return repeats"),
    ('kinds', 'amount 0 refused',
     "if not (amount >= self.low and", "if not (amount > self.low and"),
    ('stats', 'the power of a test against the wrong tail',
     "special.ndtr(effect - critical)", "special.ndtr(critical - effect)"),
    ('stats', 'Bonferroni instead of Holm',
     "level = stopped if stopped is not None else alpha / (m - rank)",
     "level = stopped if stopped is not None else alpha / m"),
    ('stats', 'a union test instead of intersection-union',
     "return float(min(1.0, 2 * min(max(ps) for ps in one_sided)))",
     "return float(min(1.0, 2 * min(min(ps) for ps in one_sided)))"),
    ('stats', 'one-sided intervals',
     "half = stats.t.ppf(1 - level / 2, test['df']) * test['se']", "half = stats.t.ppf(1 - level, test['df']) * test['se']"),
    ('stats', "Welch's degrees of freedom without the - 1",
     "df = (va + vb) ** 2 / (va ** 2 / (a.shape[axis] - 1) + vb ** 2 / (b.shape[axis] - 1))",
     "df = (va + vb) ** 2 / (va ** 2 / a.shape[axis] + vb ** 2 / b.shape[axis])"),
    ('stats', 'an overflowed loss retains everything',
     "lost = np.clip(np.where(np.isfinite(lost), lost, 1.0), 0.0, 1.0)",
     "lost = np.clip(np.where(np.isfinite(lost), lost, 0.0), 0.0, 1.0)"),
    ('stats', 'the relative margin of the mean excess without the intact score',
     "return relative_margin * abs(intact) if self.name == 'mean_excess' else math.log1p(relative_margin)",
     "return relative_margin if self.name == 'mean_excess' else math.log1p(relative_margin)"),
]


def scratch_copy():
    """The repository's code and tests (no results, virtualenv or figures) in a temporary folder."""
    folder = tempfile.mkdtemp(prefix='mutation_')
    for name in ('robustness', 'tests', 'tasks', 'configs', 'bench'):
        shutil.copytree(os.path.join(ROOT, name), os.path.join(folder, name),
                        ignore=shutil.ignore_patterns('__pycache__', 'data'))
    for name in os.listdir(ROOT):
        if name.endswith(('.py', '.ini', '.txt', '.md')) or name == 'Makefile':
            shutil.copy(os.path.join(ROOT, name), folder)
    return folder


rows, started = [], time.time()
for module, what, line, mutated in MUTATIONS:
    if only and module != only:
        continue
    folder = scratch_copy()
    path = os.path.join(folder, 'robustness', f'{module}.py')
    text = open(path).read()
    assert text.count(line) == 1, f"{module}.py: the line of '{what}' is not there once: {line}"
    open(path, 'w').write(text.replace(line, mutated))
    t0 = time.time()
    run = subprocess.run([sys.executable, '-m', 'pytest', '-x', '-q', '-p', 'no:cacheprovider', *TESTS[module]],
                         cwd=folder, capture_output=True, text=True, env=dict(os.environ, MPLBACKEND='Agg'))
    failed = [line for line in run.stdout.splitlines() if line.startswith('FAILED')]
    rows.append((module, what, 'killed' if run.returncode else 'SURVIVED',
                 failed[0].split()[1].split('::')[-1] if failed else '', time.time() - t0))
    shutil.rmtree(folder)
    print(f"{module}: {what}: {rows[-1][2]} ({rows[-1][4]:.0f} s) {rows[-1][3]}", flush=True)

print("\n| file | mutation | result | first failing test | seconds |\n| --- | --- | --- | --- | ---: |")
for module, what, result, test, seconds in rows:
    print(f"| robustness/{module}.py | {what} | {result} | {test} | {seconds:.0f} |")
print(f"\n{sum(r[2] == 'killed' for r in rows)} of {len(rows)} killed in {time.time() - started:.0f} s")
sys.exit(0 if all(r[2] == 'killed' for r in rows) else 1)
