"""The map of the effect (docs/study.md "The map"): the bilingual - control difference of the study's arms against
the share of the second language and the width, tested as declared before the arms ran (docs/statistics.md, "The
map's tests"), from the arms' archives (visuals/<arm>/data/test_gpt2/summary.json), with the positive control's
difference as the yardstick of an effect the design finds.

    python -m robustness.study_map        # visuals/map/README.md and gpt2_map.png (make study runs it)

An arm that has not run leaves its test without a verdict, and says so; nothing is drawn for it.
"""

import argparse
import os

import numpy as np
from scipy import stats as scipy_stats

from robustness import plots
from robustness.analysis import MEASURE_WORDS, decide_table, interval_text
from robustness.analysis.schema import read_summary
from robustness.comparison import Comparison, find
from robustness.provenance import figure_markdown, fingerprint
from robustness.stats import LM_DECISIVE, MEASURES, measured, one_sample

# arm: (share of the second language in a bilingual batch, width)
POINTS = {'study_dose_low': (0.125, 128), 'study': (0.25, 128), 'study_dose_high': (0.5, 128),
          'study_width64': (0.25, 64)}
ROW = dict(a='bilingual', b='control', kind='random_deletion', scope='attn')  # declared: the paper's Figure 1 damage
YARDSTICK = ('study_dropout', dict(a='dropout', b='plain', kind='random_deletion', scope='attn'))
MARGINS = dict(equivalence_margin=0.05, relative_margin=0.05)  # as every arm's rows
WORDS = {'dose trend': ("the bilingual model's advantage grows with the share of the second language",
                        "the bilingual model's advantage shrinks with the share of the second language"),
         'width': ("the bilingual model's advantage is larger at width 64",
                   "the bilingual model's advantage is smaller at width 64")}


def arm_row(visuals, arm, row=ROW):
    """The decided row `row` of an arm's archived summary (its confirmatory family's, where it has one), or None
    where the arm has no archive or no such row."""
    path = os.path.join(visuals, arm, 'data', 'test_gpt2', 'summary.json')
    if not os.path.exists(path):
        return None
    summary = read_summary(path)
    return find(summary.get('confirmatory') or [], **row) or find(summary['comparisons'], **row)


def raw_differences(row, measure):
    """Per training seed, measure(a) - measure(b) of a decided row, in the measure's own unit (seed order)."""
    entry = row.measures[measure]
    return np.asarray(entry['a'], float) - np.asarray(entry['b'], float)


def seed_change(x, differences, span):
    """Per training seed, the least-squares slope of its differences (points, seeds) on x, times `span`: the change
    along each seed's line over the span (with two points, their difference)."""
    return np.polyfit(np.asarray(x, float), np.asarray(differences, float), 1)[0] * span


def change_row(map_test, what, rows, x, span, intact):
    """A map test (`map_test`, its name; `what` it computes) as a table row of robustness.stats.decide: per decisive
    measure, each training seed's change of bilingual - control over `span` of x (oriented: positive, the advantage
    grows), t over the seeds."""
    measures = {}
    missing = [arm for arm, row in rows.items() if row is None]
    for name in LM_DECISIVE:
        measure = MEASURES[name]
        margin = measure.margin(MARGINS['equivalence_margin'], MARGINS['relative_margin'], intact)
        if missing:
            measures[name] = measured(measure, None, f"not run: {', '.join(missing)}", margin)
            continue
        differences = [raw_differences(row, name) for row in rows.values()]
        if len({len(d) for d in differences}) > 1:  # the arms' configs share train_seeds: seed i is seed i in each
            measures[name] = measured(measure, None, 'the arms have different training seeds', margin)
            continue
        change = seed_change(x, differences, span)
        test = one_sample(measure.better * change, 'training seeds (paired)')
        measures[name] = measured(measure, test, None if test else 'nothing varies', margin,
                                  a=[float(v) for v in change], b=[0.0] * len(change))
    return Comparison(**ROW, design=map_test, measures=measures, decisive=LM_DECISIVE, described={'test': what})


def decide_map(visuals='visuals'):
    """{'points': each arm's row and per-seed headline differences, 'tests': the dose trend and the width, decided
    together (Holm over the two), 'answer', 'yardstick'}."""
    rows = {arm: arm_row(visuals, arm) for arm in POINTS}
    present = [row for row in rows.values() if row is not None]
    intact = float(np.mean([np.mean([row.described['mean_a'][0], row.described['mean_b'][0]]) for row in present])
                   ) if present else 1.0
    dose = {arm: rows[arm] for arm in ('study_dose_low', 'study', 'study_dose_high')}
    width = {arm: rows[arm] for arm in ('study_width64', 'study')}
    tests, answer = decide_table([
        change_row('dose trend', 'per-seed slope over the share', dose, [POINTS[arm][0] for arm in dose], 0.5 - 0.125,
                   intact),
        change_row('width', 'per-seed difference, width 64 - 128', width, [1.0, 0.0], 1.0, intact)],
        lambda row: WORDS[row.design])
    yardstick = arm_row(visuals, YARDSTICK[0], YARDSTICK[1])
    headline = LM_DECISIVE[0]
    return {'points': {arm: None if row is None else {
                'share': POINTS[arm][0], 'width': POINTS[arm][1], 'outcome': row.outcome, 'verdict': row.verdict,
                'detectable': row.detectable, 'differences': [float(v) for v in raw_differences(row, headline)]}
            for arm, row in rows.items()},
            'tests': tests, 'answer': answer,
            'yardstick': None if yardstick is None else {
                'estimate': yardstick.measures[headline]['test']['estimate'],
                'ci': yardstick.measures[headline]['ci'], 'verdict': yardstick.verdict}}


def mean_interval(values):
    """(mean, half-width of its 95% t interval) over the training seeds."""
    values = np.asarray(values, float)
    return float(values.mean()), float(scipy_stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1)
                                       / np.sqrt(len(values)))


def draw(found, path):
    """The headline measure's bilingual - control difference against the share, one line per width (mean and 95%
    interval over the training seeds), the positive control's difference as a band."""
    fig, (ax,) = plots.figure(width=6.4, height=4.4)
    for width, marker, offset in ((128, 'o', 0.0), (64, 's', 0.008)):
        points = sorted((point['share'], *mean_interval(point['differences'])) for point in found['points'].values()
                        if point and point['width'] == width)
        if points:
            shares, means, halves = zip(*points)
            ax.errorbar(np.array(shares) + offset, means, yerr=halves, marker=marker, capsize=4,
                        label=f'width {width}')
    if found['yardstick'] and found['yardstick']['ci']:
        low, high = found['yardstick']['ci']
        ax.axhspan(low, high, color='tab:green', alpha=0.2, label='positive control: dropout - plain')
    ax.axhline(0, color='black', linewidth=0.8)
    ax.set_xlabel('share of the second language in a bilingual batch')
    ax.set_ylabel(f'bilingual - control, {MEASURE_WORDS[LM_DECISIVE[0]]}\n(random deletion of attention)')
    ax.set_xticks(sorted({point[0] for point in POINTS.values()}))
    ax.legend(loc='best', fontsize=8)
    plots.save(fig, path)


def paragraph(found):
    """Where, if anywhere, the bilingual model is more robust, and how large an effect the study could have missed:
    in words, from the decided rows alone."""
    ran = {arm: point for arm, point in found['points'].items() if point}
    where = [f"share {p['share']:g}, width {p['width']}: {p['verdict']}" for p in ran.values()]
    detectable = [p['detectable'] for p in ran.values() if p['detectable'] is not None]
    text = f"Bilingual against control under random deletion of attention, each arm's declared row: {'; '.join(where)}."
    if detectable:
        span = f'{min(detectable):.3f}' + (f' to {max(detectable):.3f}' if max(detectable) > min(detectable) else '')
        text += (f" An arm's test would have found, with 80% power, a difference of {span} in "
                 f"{MEASURE_WORDS[LM_DECISIVE[0]]}")
        if found['yardstick']:
            text += f"; the positive control's was {found['yardstick']['estimate']:+.3f}"
        text += '.'
    tests = '; '.join(f"{row.design}: {row.verdict}" for row in found['tests'])
    return text + f" Across the arms (Holm over the two tests): {tests}."


def write(found, folder):
    """visuals/map/README.md and its figure."""
    os.makedirs(folder, exist_ok=True)
    draw(found, os.path.join(folder, 'gpt2_map.png'))
    lines = ['# The map of the effect', '',
             'Generated by `python -m robustness.study_map` from the arms\' archives (visuals/<arm>/data/); the tests '
             'were declared before the arms ran (docs/statistics.md, "The map\'s tests").', '',
             paragraph(found), '', '| arm | share | width | seeds | bilingual - control, mean [95%] | verdict |',
             '| --- | ---: | ---: | ---: | --- | --- |']
    for arm, (share, width) in POINTS.items():
        point = found['points'][arm]
        if point is None:
            lines.append(f'| {arm} | {share:g} | {width} | 0 | not run | n/a |')
            continue
        mean, half = mean_interval(point['differences'])
        lines.append(f"| {arm} | {share:g} | {width} | {len(point['differences'])} | {mean:+.3f} "
                     f"{interval_text([mean - half, mean + half], 3)} | {point['verdict']} |")
    lines += ['', '| test | verdict | headline change [Holm-level interval] |', '| --- | --- | --- |']
    for row in found['tests']:
        change = 'n/a' if row.estimate is None else f"{row.estimate:+.3f} {interval_text(row.ci, 3)}"
        lines.append(f"| {row.design} | {row.verdict} | {change} |")
    figure = os.path.join(folder, 'gpt2_map.png')
    lines += ['', figure_markdown(figure, folder, fingerprint(figure)), '']
    with open(os.path.join(folder, 'README.md'), 'w') as f:
        f.write('\n'.join(lines))
    print(f"wrote {os.path.join(folder, 'README.md')}")


def parser():
    """The command line's parser (tests/test_docs.py checks the docs' command lines with it)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--visuals', default='visuals', help="where the arms' archives are")
    parser.add_argument('--out', default='visuals/map', help="the map's folder")
    return parser


if __name__ == '__main__':
    arguments = parser().parse_args()
    found = decide_map(arguments.visuals)
    if any(found['points'].values()):
        write(found, arguments.out)
    else:
        print(f"no arm of the map has an archive in {arguments.visuals}: nothing written")
