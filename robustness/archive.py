"""A study's evidence in the repository: the measurement CSVs, settings and summaries of each script of a results
folder, copied beside its report (`make study` writes visuals/<arm>/data/), without weights or logs. Anyone can then
redo every verdict from a fresh clone:

    python -m robustness.archive results/study visuals/study/data    # what make study runs after its report
    python -m robustness.analyze visuals/study/data/test_gpt2        # the verdicts again, from the copy
    python -m robustness.report --results=visuals/study/data --out=visuals/study/README.md --readme=

The copy is written whole or not at all (a temporary folder, then renamed over the old one).
"""

import argparse
import os
import shutil
import sys

from robustness.config import ConfigError, check

# what the analysis and the report read, and nothing they do not (models, checkpoints, per-process logs)
FILES = ('perplexity.csv', 'checkpoints.csv', 'tasks.csv', 'glue.csv', 'floors.json', 'nonlinear.csv', 'linear.csv',
         'train_log.csv', 'config.json', 'summary.json', 'run.json')


def archive(results, out):
    """Copy FILES of every script's folder of `results` (those with a run.json) into out/<script folder>/; returns
    the number of files copied."""
    check(os.path.isdir(results), f"results: {results} is not a folder")
    folders = sorted(name for name in os.listdir(results) if os.path.exists(os.path.join(results, name, 'run.json')))
    check(folders, f"results: {results} holds no script's run (no */run.json)")
    partial, copied = out.rstrip('/') + '.part', 0
    shutil.rmtree(partial, ignore_errors=True)
    for name in folders:
        os.makedirs(os.path.join(partial, name))
        for filename in FILES:
            if os.path.exists(os.path.join(results, name, filename)):
                shutil.copy2(os.path.join(results, name, filename), os.path.join(partial, name, filename))
                copied += 1
    shutil.rmtree(out, ignore_errors=True)
    os.replace(partial, out)
    print(f"wrote {out} ({copied} files of {len(folders)} scripts)")
    return copied


def parser():
    """The command line's parser (tests/test_docs.py checks the docs' command lines with it)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('results', help="a study's results folder (one out_dir per script)")
    parser.add_argument('out', help='where the copy goes (replaced whole)')
    return parser


if __name__ == '__main__':
    arguments = parser().parse_args()
    try:
        archive(arguments.results, arguments.out)
    except ConfigError as error:
        print(error.code, file=sys.stderr)
        sys.exit(1)
