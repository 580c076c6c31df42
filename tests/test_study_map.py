"""The map of the effect (robustness/study_map.py) on archives with a known answer: an advantage that grows with the
share of the second language is found, as the declared test says (a slope per training seed, t over the seeds, every
decisive measure); an arm that has not run leaves its test without a verdict."""

import json
import os
import subprocess
import sys

import numpy as np

from conftest import ROOT
from robustness import study_map
from robustness.analysis.schema import SCHEMA
from robustness.provenance import fingerprint
from robustness.stats import LM_DECISIVE


def archive(visuals, arm, identity, retained):
    """An arm's summary.json holding one decided row whose per-seed retained areas (a, b) are `retained`; the two
    loss measures move with them (a model that keeps more loses less)."""
    a, b = (np.asarray(x, float) for x in retained)
    values = {'retained_area_untrained': (a, b), 'mean_excess': (1.0 - a, 1.0 - b),
              'mean_log_ratio': (0.5 * (1.0 - a), 0.5 * (1.0 - b))}
    row = dict(identity, measures={name: {'a': list(values[name][0]), 'b': list(values[name][1]),
                                          'test': {'estimate': float((a - b).mean())}, 'ci': [-1.0, 1.0]}
                                   for name in LM_DECISIVE},
               described={'mean_a': [2.0, 2.5], 'mean_b': [2.0, 2.5]}, outcome='inconclusive', verdict='inconclusive',
               detectable=0.04)
    folder = os.path.join(visuals, arm, 'data', 'test_gpt2')
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, 'summary.json'), 'w') as f:
        json.dump({'schema': SCHEMA, 'comparisons': [row]}, f)


def test_an_advantage_that_grows_with_the_share_is_found(tmp_path):
    rng = np.random.default_rng(0)
    seeds = rng.normal(0.8, 0.02, 5)  # each seed's control, shared across the arms (one initialisation per seed)
    for arm, (share, width) in study_map.POINTS.items():
        gain = 0.3 * share + (0.01 if width == 64 else 0.0)
        archive(tmp_path, arm, study_map.ROW, (seeds + gain + rng.normal(0, 0.005, 5), seeds))
    found = study_map.decide_map(str(tmp_path))
    dose, width = found['tests']
    assert dose.design == 'dose trend' and dose.outcome == 'higher' and width.design == 'width'
    assert abs(dose.estimate - 0.3 * 0.375) < 0.02  # the change from 0.125 to 0.5
    assert 'grows with the share' in dose.verdict
    assert found['yardstick'] is None  # no positive control archived here


def test_arms_not_run_leave_the_tests_without_a_verdict_and_the_map_drawn(tmp_path):
    archive(tmp_path, 'study', study_map.ROW, ([0.8, 0.81, 0.79, 0.8, 0.82], [0.8, 0.8, 0.8, 0.81, 0.8]))
    archive(tmp_path, 'study_dropout', study_map.YARDSTICK[1], ([0.9] * 5, [0.8] * 5))
    out = tmp_path / 'map'
    result = subprocess.run([sys.executable, '-m', 'robustness.study_map', f'--visuals={tmp_path}', f'--out={out}'],
                            cwd=ROOT, capture_output=True, text=True, timeout=120,
                            env=dict(os.environ, MPLBACKEND='Agg'))
    assert result.returncode == 0, result.stderr[-2000:]
    report = (out / 'README.md').read_text()
    assert '| study_dose_low | 0.125 | 128 | 0 | not run | n/a |' in report
    dose, _ = study_map.decide_map(str(tmp_path))['tests']
    assert dose.outcome == 'no verdict' and 'not run: study_dose_low, study_dose_high' in dose.verdict
    assert "the positive control's was +0.100" in report and (out / 'gpt2_map.png').exists()
    assert f"![gpt2_map.png](gpt2_map.png)\n<!-- sha256 {fingerprint(out / 'gpt2_map.png')} -->" in report


def test_the_dose_trend_holds_its_level_when_seeds_differ_across_arms():
    """With a large effect of each training seed that its three arms share (one initialisation per seed) and noise
    per arm, the declared test (a slope per seed, t over the five) rejects about 5% of maps under no trend, since the
    seed effect cancels in each seed's slope, and most maps under a trend of 0.03 over the shares tested."""
    from robustness.stats import one_sample
    rng = np.random.default_rng(11)
    shares = np.array([0.125, 0.25, 0.5])
    for trend, low, high in ((0.0, 0.04, 0.06), (0.03, 0.8, 1.0)):
        rejected = 0
        for _ in range(4000):
            seed_effect = rng.normal(0, 0.05, 5)  # each seed's own difference, shared by its three arms
            differences = seed_effect[None, :] + trend * (shares[:, None] - 0.125) / 0.375 + rng.normal(0, 0.01, (3, 5))
            rejected += one_sample(study_map.seed_change(shares, differences, 0.375), 'seeds')['p'] <= 0.05
        assert low <= rejected / 4000 <= high, (trend, rejected / 4000)
