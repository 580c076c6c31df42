"""Re-analysis without re-measuring: summary.json and the figures of a finished (or stopped) run, from its CSV and
config.json alone, with other analysis settings if wanted. No model is loaded; it takes seconds.

    python -m robustness.analyze results/test_gpt2
    python -m robustness.analyze results/test_gpt2 --compare=bilingual:control --equivalence_margin=0.02
    python -m robustness.analyze results/run_glue_test --failure_fraction=0.25 --visuals_dir=/tmp/figures

The script is known by its CSV: perplexity.csv (test_gpt2.py), glue.csv (run_glue_test.py), nonlinear.csv
(non_linear.py): the scripts with verdicts. binary_classification.py's summary is computed from its trained
representations, and train_bilingual_gpt2.py's from its logs, by rerunning them (they measure nothing again). Whatever
is overridden is recorded in summary.json under `analysis_settings`; config.json keeps the run's own settings. A rerun
of the script itself, with every row present, writes the same summary.json as this does with no override.
"""

import argparse
import datetime
import json
import os
import sys

from robustness.analysis import non_linear, run_glue_test, test_gpt2
from robustness.analysis.schema import write_summary
from robustness.config import check
from robustness.provenance import FIGURES_WRITTEN, provenance
from robustness.results import read_rows
from robustness.settings import check_tolerance, validate
from robustness.stats import CLASSIFIER_MEASURES, LM_MEASURES, MARGIN, MATCHED_TOLERANCE, RELATIVE_MARGIN

ANALYSES = {module.CSV: module for module in (test_gpt2, run_glue_test, non_linear)}
ANALYSIS_SETTINGS = ('failure_fraction', 'equivalence_margin', 'relative_margin', 'matched_tolerance', 'measures',
                     'unit')  # overridable


def settings(out_dir, overrides):
    """The run's config.json with the analysis overrides applied, checked: a one-line error (SystemExit) for a
    folder without a CSV or config.json, a pair whose label the CSV lacks, or a setting out of range."""
    check(os.path.isdir(out_dir), f"out_dir: {out_dir} is not a folder")
    found = [name for name in ANALYSES if os.path.exists(os.path.join(out_dir, name))]
    for csv, script in (('linear.csv', 'binary_classification.py'), ('train_log.csv', 'train_bilingual_gpt2.py')):
        check(found or not os.path.exists(os.path.join(out_dir, csv)),
              f"out_dir: {out_dir} is {script}'s, which has no verdicts to redo: rerun the script (it measures "
              f"nothing again) for its summary")
    check(found, f"out_dir: {out_dir} holds none of {', '.join(ANALYSES)}: nothing to analyze")
    config_path = os.path.join(out_dir, 'config.json')
    check(os.path.exists(config_path), f"out_dir: {out_dir} has no config.json (the run's settings)")
    with open(config_path) as f:
        config = json.load(f)
    module = ANALYSES[found[0]]
    valid = LM_MEASURES if module is test_gpt2 else CLASSIFIER_MEASURES
    # a run from before a setting existed: its default then
    config.setdefault('equivalence_margin', MARGIN)
    config.setdefault('relative_margin', RELATIVE_MARGIN)
    config.setdefault('measures', list(valid))
    if module is test_gpt2:
        config.setdefault('unit', 'byte')
        config.setdefault('confirmatory', [])  # a run from before the confirmatory family
        config.setdefault('matched_tolerance', MATCHED_TOLERANCE)
        if 'eval_file' in config:  # one text, English, before eval_files
            config['eval_files'] = f"en={config.pop('eval_file')}"
    if 'epoch_kinds' in config:  # test_gpt2.py's checkpoints were epochs before
        config['checkpoint_kinds'] = config.pop('epoch_kinds')
    if isinstance(config['scope'], str):  # run_glue_test.py's scope was comma-separated text before
        config['scope'] = [s.strip() for s in config['scope'].split(',') if s.strip()]
    config.update({name: value for name, value in overrides.items() if value is not None})
    check(module is test_gpt2 or overrides.get('unit') is None, "unit: only test_gpt2.py's language models have units")
    validate({name: config[name] for name in ANALYSIS_SETTINGS if name in config}, measures=valid,
             untrained=config.get('untrained', True))  # the scripts' own rules
    if module is test_gpt2:
        check_tolerance(config['matched_tolerance'], config['relative_margin'])
    if overrides.get('compare') is not None:
        check(module is not non_linear, "compare: non_linear.py compares numbers of tasks, not models")
        models = set(read_rows(os.path.join(out_dir, found[0]), module.TABLE)['model'])
        for pair in config['compare']:
            a, colon, b = pair.partition(':')
            check(colon and a and b, f"compare: {pair!r} is not label:label")
            for label in (a, b):
                check(label in models, f"compare: {label!r} is not a model of {found[0]} ({', '.join(sorted(models))})")
    if module is run_glue_test:
        check(os.path.exists(os.path.join(out_dir, 'floors.json')),
              f"out_dir: {out_dir} has no floors.json (the best constant predictor of each metric)")
    return module, config


def record_analysis(out_dir, own_figures):
    """In out_dir/run.json (where the run wrote one): when and at which commit the analysis was redone, and, when it
    drew into the run's own visuals_dir, the figures it drew (the report shows those)."""
    path = os.path.join(out_dir, 'run.json')
    if not os.path.exists(path):
        return
    with open(path) as f:
        run = json.load(f)
    found = provenance()
    run['analysis'] = {'finished': datetime.datetime.now().isoformat(timespec='seconds'), 'commit': found['commit'],
                       'dirty': found['dirty']}
    if own_figures:
        run['figures'] = dict(sorted(FIGURES_WRITTEN.items()))
    with open(path, 'w') as f:
        json.dump(run, f, indent=2)


def parser():
    """The command line's parser (tests/test_docs.py checks the docs' command lines with it)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('out_dir', help="a script's out_dir: its CSV and config.json")
    parser.add_argument('--compare', type=lambda text: [p.strip() for p in text.split(',') if p.strip()],
                        help='a:b pairs to compare (a - b), comma-separated')
    parser.add_argument('--failure_fraction', type=float, help='half-failure level: this far from intact to the floor')
    parser.add_argument('--equivalence_margin', type=float, help='margin of the verdict "equivalent", in retained area')
    parser.add_argument('--relative_margin', type=float,
                        help='margin of the mean excess and mean log ratio: a fraction of the intact score')
    parser.add_argument('--matched_tolerance', type=float,
                        help="test_gpt2.py: a pair whose final models' intact bpb differ by at most this fraction is "
                             "matched already")
    parser.add_argument('--measures', type=lambda text: [m.strip() for m in text.split(',') if m.strip()],
                        help='the measures a direction must hold under, comma-separated')
    parser.add_argument('--unit', help="test_gpt2.py: byte or token, the decision unit")
    parser.add_argument('--visuals_dir', help='where the figures go')
    return parser


def main(argv=None):
    arguments = parser().parse_args(argv)
    overrides = {name: value for name, value in vars(arguments).items() if name != 'out_dir'}
    try:
        module, config = settings(arguments.out_dir, overrides)
        summary = module.analyze(arguments.out_dir, config)  # checks what needs the CSV (a unit) before it writes
    except SystemExit as error:  # a one-line error: said, and nothing written
        print(error.code, file=sys.stderr)
        return 1
    record_analysis(arguments.out_dir, arguments.visuals_dir is None)
    applied = {name: value for name, value in overrides.items() if value is not None}
    if applied:  # said in summary.json, which otherwise is exactly what the script writes
        write_summary(arguments.out_dir, dict(summary, analysis_settings=applied))
    return 0


if __name__ == '__main__':
    sys.exit(main())
