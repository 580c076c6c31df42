"""bench/gpu_check.py's smoke run: every GPU step at tiny sizes on the CPU, so that the GPU run does not fail on
something the CPU could have caught."""

import json

import pytest
import torch

from conftest import one_line_error, run_in_process, run_script


def test_smoke_run_measures_every_step(tmp_path):
    result = run_script('bench/gpu_check.py', '--smoke=True', '--device=cpu', f'--out={tmp_path / "check.json"}')
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    steps = {row['step']: row for row in json.load(open(tmp_path / 'check.json'))['steps']}
    assert set(steps) == {'sweep', 'train', 'torchrun_train', 'torchrun_sweep', 'glue'}
    assert all(row['status'] == 'ok' for row in steps.values()), steps
    sweep = steps['sweep']
    assert sweep['speedup'] > 0 and sweep['ours_tokens_per_s'] > 0 and sweep['intact_nll_relative_difference'] < 1e-5
    assert steps['train']['tokens_per_s'] > 0 and steps['train']['flops_per_token'] > 6 * steps['train']['parameters']
    assert steps['torchrun_train']['plain_bpb'] == steps['torchrun_train']['torchrun_bpb']
    assert steps['torchrun_sweep']['max_nll_difference'] == 0 and steps['glue']['rows'] > 0
    assert '| sweep | ok |' in result.stdout


@pytest.mark.skipif(torch.cuda.is_available(), reason='a GPU is visible here')
def test_cuda_without_a_gpu_is_a_one_line_error(monkeypatch):
    exit = run_in_process(monkeypatch, 'bench/gpu_check.py', '--device=cuda')
    assert one_line_error(exit) == 'error: device: cuda was asked for but no GPU is visible'
