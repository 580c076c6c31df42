"""GPU readiness in one command: every GPU path of the project, measured, in one table.

    python bench/gpu_check.py --out=gpu_check.json          # on one GPU, no network, about 8 minutes at most
    python bench/gpu_check.py --smoke=True --device=cpu     # the same at tiny sizes on the CPU (the tests run it)

Steps, each reported in its own row (a step that fails says why there, and the others still run):
- sweep: a random-init GPT-2 (GPT-2 small: 124M parameters, from its config, no download) scores `eval_tokens` of the
  offline English text at windows of 1,024, stride 512, on the same trials, first by the paper's procedure (deep copy
  per trial, one window per forward, fp32: bench/paper_procedure.py), then by test_gpt2.py's (in place + restore,
  batched, bf16 autocast on a GPU): seconds per trial, scored tokens/s, the speed-up, and how far the intact model's
  NLL at the sweep's precision (bf16 on a GPU) is from the fp32 one;
- train / train_compiled: train_bilingual_gpt2.py's training step at GPT-2 small, block 1,024, bf16, without and with
  torch.compile, `train_steps` steps: tokens/s (median of the logged windows) and MFU = tokens/s x FLOPs per token /
  peak, FLOPs per token = 6 N + 12 L d T (N parameters, L layers, d width, T block: PaLM's formula), the peak
  taken from the device name (bf16 dense);
- torchrun_sweep / torchrun_train: `torchrun --standalone --nproc_per_node=1` on a tiny sweep and a tiny training:
  they must write what a plain run writes (the same rows and NLLs; the same held-out bits per byte);
- glue: run_glue_test.py end to end on a tiny model (bf16 autocast on a GPU).
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import torch
from transformers import AutoConfig, AutoModelForCausalLM, GPT2Config, GPT2LMHeadModel

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from paper_procedure import paper_trial
from robustness import corpora
from robustness.config import configure, settings_checked
from robustness.perplexity import SlidingWindowNLL
from robustness.perturb import perturbed
from robustness.results import read_rows
from robustness.provenance import machine
from robustness.runtime import setup

# -----------------------------------------------------------------------------
smoke = False              # tiny sizes on the CPU, under 2 minutes (what the test suite runs)
device = 'auto'            # auto | cpu | cuda
eval_tokens = 280000       # sweep: tokens of the offline English text scored per trial
sweep_trials = 6           # sweep: trials (random deletion, magnitude pruning, gaussian noise at two levels)
train_steps = 60           # train: optimizer steps timed per variant
train_batch = 16           # train: sequences of 1,024 tokens per step
out = ''                   # also write the table as JSON here
# -----------------------------------------------------------------------------
config = configure(globals())
settings_checked()
rt = setup(device)
if smoke:
    eval_tokens, sweep_trials, train_steps, train_batch = 6000, 3, 8, 4
SIZE = dict(n_layer=2, n_embd=64, n_head=2, block=128) if smoke else dict(n_layer=12, n_embd=768, n_head=12, block=1024)
PEAK_BF16 = {'H200': 989e12, 'H100': 989e12, 'A100': 312e12, 'L40S': 362e12, 'A10': 125e12, 'V100': 125e12}
work = tempfile.mkdtemp(prefix='gpu_check_')
rows = []


def step(name):
    """Run a step, time it, and keep its row; a failure is reported in the row, and the next step runs."""
    def decorate(function):
        started = time.perf_counter()
        try:
            result, status = function(), 'ok'
        except Exception as error:  # reported in the table, not raised: the other steps still run
            result, status = {}, f"failed: {type(error).__name__}: {str(error).strip().splitlines()[-1] if str(error).strip() else ''}"
        rows.append({'step': name, 'status': status, 'seconds': round(time.perf_counter() - started, 1), **result})
        print(f"{name}: {status} {result}", flush=True)
        return function
    return decorate


def run(*args, torchrun=False):
    """A project script as a user runs it; its output on failure."""
    launcher = [sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node=1'] if torchrun \
        else [sys.executable]
    result = subprocess.run([*launcher, *args], cwd=ROOT, capture_output=True, text=True,
                            env=dict(os.environ, PYTHONUNBUFFERED='1', MPLBACKEND='Agg'))
    if result.returncode != 0:
        raise RuntimeError(f"{os.path.basename(args[0])} exited {result.returncode}: "
                           f"{(result.stderr.strip().splitlines() or ['no output'])[-1]}")
    return result.stdout


def text_ids(vocab_size):
    """Real text statistics spread over the vocabulary (GPT-2's own tokenizer needs the hub)."""
    text = '\n'.join(corpora.chapters(corpora.english_verses())).encode('utf-8')
    return (torch.tensor(list(text[:eval_tokens]), dtype=torch.long) * 97 % vocab_size)


@step('sweep')
def sweep():
    net = GPT2LMHeadModel(GPT2Config(n_layer=SIZE['n_layer'], n_embd=SIZE['n_embd'], n_head=SIZE['n_head'],
                                     n_positions=SIZE['block'], vocab_size=2048 if smoke else 50257,
                                     attn_implementation='sdpa')).to(rt.device).eval()
    ids = text_ids(net.config.vocab_size)
    window, stride = SIZE['block'], SIZE['block'] // 2
    kinds = [('random_deletion', 0.2), ('magnitude_pruning', 0.2), ('gaussian_noise', 0.02),
             ('random_deletion', 0.4), ('magnitude_pruning', 0.4), ('gaussian_noise', 0.04)][:sweep_trials]
    sync = torch.cuda.synchronize if rt.device.type == 'cuda' else lambda: None
    sync()
    started = time.perf_counter()
    for seed, (kind, amount) in enumerate(kinds):
        paper_trial(net, ids, kind, amount, seed, window, stride, rt.device)
    sync()
    paper_seconds = (time.perf_counter() - started) / len(kinds)
    reference, _ = SlidingWindowNLL(net, ids, window, stride, batch_size=16, precision='fp32')()  # the intact model
    scorer = SlidingWindowNLL(net, ids, window, stride, batch_size=16)  # bf16 autocast on a GPU
    intact, tokens = scorer()  # warm-up, and the intact model's NLL at the sweep's precision
    sync()
    started = time.perf_counter()
    for seed, (kind, amount) in enumerate(kinds):
        with perturbed(net, kind, amount, scope='attn', seed=seed):
            scorer()
    sync()
    ours_seconds = (time.perf_counter() - started) / len(kinds)
    return {'tokens_per_trial': tokens, 'paper_s_per_trial': round(paper_seconds, 3),
            'ours_s_per_trial': round(ours_seconds, 3), 'paper_tokens_per_s': round(tokens / paper_seconds),
            'ours_tokens_per_s': round(tokens / ours_seconds), 'speedup': round(paper_seconds / ours_seconds, 2),
            'intact_nll_relative_difference': float(abs(intact - reference) / abs(reference))}


TINY_MODEL = ['--n_layer=1', '--n_embd=32', '--n_head=2', '--vocab_size=400', '--block_size=32', '--max_docs=24']


def train(out_dir, size, batch, steps, compiled, torchrun=False):
    """train_bilingual_gpt2.py's monolingual model, one seed, `steps` steps, evaluated at the end; a run already in
    out_dir is read, not repeated (the smoke run's throughput step is the plain run of torchrun_train)."""
    if os.path.exists(os.path.join(out_dir, 'train_log.csv')):
        return read_rows(os.path.join(out_dir, 'train_log.csv')), os.path.join(out_dir, 'monolingual', 'seed_1337')
    run('train_bilingual_gpt2.py', *size, f'--batch_size={batch}', f'--max_steps={steps}', f'--eval_interval={steps}',
        '--warmup_steps=2', f'--log_interval={max(1, steps // 6)}', '--train_models=monolingual', '--train_seeds=1337',
        f'--compile={compiled}', f'--out_dir={out_dir}', f'--visuals_dir={out_dir}/visuals', f'--device={rt.device.type}',
        torchrun=torchrun)
    return read_rows(os.path.join(out_dir, 'train_log.csv')), os.path.join(out_dir, 'monolingual', 'seed_1337')


def throughput(compiled):
    size = TINY_MODEL if smoke else [f"--n_layer={SIZE['n_layer']}", f"--n_embd={SIZE['n_embd']}",
                                     f"--n_head={SIZE['n_head']}", '--vocab_size=8192', f"--block_size={SIZE['block']}",
                                     '--max_docs=200']
    # at smoke sizes this is the tiny plain run that torchrun_train compares with: trained once
    name = 'tiny_train_plain' if smoke and not compiled else f'train_compiled_{compiled}'
    log, model_dir = train(os.path.join(work, name), size, train_batch, train_steps, compiled)
    speeds = log[log['split'] == 'train']['tokens_per_s'].tolist()
    tokens_per_s = statistics.median(speeds[1:] or speeds)  # the first window holds the warm-up (and compilation)
    model_config = AutoConfig.from_pretrained(model_dir)
    with torch.device('meta'):
        parameters = sum(p.numel() for p in AutoModelForCausalLM.from_config(model_config).parameters())
    flops = 6 * parameters + 12 * model_config.n_layer * model_config.n_embd * model_config.n_positions
    name = torch.cuda.get_device_name(rt.device) if rt.device.type == 'cuda' else ''
    peak = next((value for key, value in PEAK_BF16.items() if key in name), None)
    return {'tokens_per_s': round(tokens_per_s), 'parameters': parameters, 'flops_per_token': flops,
            'peak_flops': peak, 'mfu': round(tokens_per_s * flops / peak, 4) if peak else None}


step('train')(lambda: throughput(False))
if rt.device.type == 'cuda' or not smoke:  # compiling takes minutes on a CPU
    step('train_compiled')(lambda: throughput(True))


@step('torchrun_train')
def torchrun_train():
    results = []
    for torchrun, name in ((False, 'plain'), (True, 'torchrun')):
        log, _ = train(os.path.join(work, f'tiny_train_{name}'), TINY_MODEL, 4, 8, False, torchrun=torchrun)
        results.append(log[log['split'] == 'eval']['bpb'].iloc[-1])
    if abs(results[0] - results[1]) > 1e-3 * results[0]:
        raise RuntimeError(f"torchrun's held-out bits per byte {results[1]:.6f} differ from a plain run's {results[0]:.6f}")
    return {'plain_bpb': float(results[0]), 'torchrun_bpb': float(results[1])}


@step('torchrun_sweep')
def torchrun_sweep():
    model_dir = os.path.join(work, 'tiny_train_plain', 'monolingual', 'seed_1337')
    text = os.path.join(work, 'eval.txt')
    with open(text, 'w') as f:
        f.write('\n'.join(corpora.chapters(corpora.english_verses(), books={8})) + '\n')
    frames = []
    for torchrun, name in ((False, 'plain'), (True, 'torchrun')):
        out_dir = os.path.join(work, f'sweep_{name}')
        run('test_gpt2.py', f'--models=m={model_dir}', f'--eval_files=en={text}', '--lm_eval_tasks=', '--eval_chars=4000',
            '--kinds=random_deletion', '--scope=attn', '--levels=0,0.3', '--repeats=2', '--checkpoints=False',
            '--max_length=32', f'--out_dir={out_dir}',
            f'--visuals_dir={out_dir}/visuals', f'--device={rt.device.type}', torchrun=torchrun)
        frames.append(read_rows(os.path.join(out_dir, 'perplexity.csv')).sort_values(['kind', 'level', 'repeat']))
    plain, launched = frames
    same_rows = len(plain) == len(launched) and (plain['level'].to_numpy() == launched['level'].to_numpy()).all()
    difference = float((plain['nll'].to_numpy() - launched['nll'].to_numpy()).__abs__().max()) if same_rows else None
    if not same_rows or difference > 1e-4 * float(plain['nll'].abs().max()):
        raise RuntimeError(f"torchrun wrote other rows than a plain run (same rows: {same_rows}, max NLL difference {difference})")
    return {'rows': len(plain), 'max_nll_difference': difference}


@step('glue')
def glue():
    model_dir = os.path.join(work, 'tiny_train_plain', 'monolingual', 'seed_1337')
    out_dir = os.path.join(work, 'glue')
    stdout = run('run_glue_test.py', f'--models=tiny={model_dir}', '--train_size=64', '--validation_size=32',
                 '--epochs=1', '--batch_size=16', '--max_length=32', '--kinds=random_deletion,head_deletion',
                 '--levels=0,0.5', '--repeats=2', f'--out_dir={out_dir}', f'--visuals_dir={out_dir}/visuals',
                 f'--device={rt.device.type}')
    frame = read_rows(os.path.join(out_dir, 'glue.csv'))
    intact = [line for line in stdout.splitlines() if 'intact:' in line]
    return {'rows': len(frame), 'intact': intact[-1].split('intact: ')[1][:60] if intact else ''}


where = torch.cuda.get_device_name(rt.device) if rt.device.type == 'cuda' else machine()
print(f"\n{'smoke run (tiny sizes)' if smoke else 'full run'} on {where}; torch {torch.__version__}\n")
print("| step | status | seconds | measured |")
print("| --- | --- | ---: | --- |")
for row in rows:
    measured = ', '.join(f"{key} {value}" for key, value in row.items() if key not in ('step', 'status', 'seconds'))
    print(f"| {row['step']} | {row['status']} | {row['seconds']} | {measured} |")
if out:
    with open(out, 'w') as f:
        json.dump({'device': where, 'torch': torch.__version__, 'smoke': smoke, 'steps': rows}, f, indent=2)
    print(f"wrote {out}")
raise SystemExit(0 if all(row['status'] == 'ok' for row in rows) else 1)
