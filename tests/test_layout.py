"""The repository as a user first meets it: `pytest` in the root collects tests/ and never imports a script."""

import subprocess
import sys

from conftest import ROOT


def test_pytest_in_the_root_collects_only_the_tests():
    result = subprocess.run([sys.executable, '-m', 'pytest', '--collect-only', '-q', '-p', 'no:xdist'], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    collected = [line for line in result.stdout.splitlines() if '::' in line]
    assert len(collected) > 100 and all(line.startswith('tests/') for line in collected)
    assert 'rank 0' not in result.stdout and 'error:' not in result.stdout  # no script ran
