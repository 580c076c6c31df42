"""train_bilingual_gpt2.py end to end with tiny models: equal budgets, held-out books, the learning-rate
schedule, gradient clipping, exact resume, torchrun/DDP on CPU, a pretrained local init, bad input."""

import json
import math
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoTokenizer, GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

from conftest import OFFLINE, ROOT, one_line_error, run_in_process, run_main, run_script
from robustness import corpora
from robustness.perplexity import evaluate_text

SCRIPT = 'train_bilingual_gpt2.py'
TINY = ['--n_layer=1', '--n_embd=32', '--n_head=2', '--vocab_size=400', '--block_size=32', '--batch_size=4',
        '--max_steps=8', '--eval_interval=4', '--checkpoint_interval=4', '--warmup_steps=2', '--log_interval=1', '--max_docs=24',
        '--eval_batch_size=64', '--learning_rate=0.01', '--min_lr_ratio=0.1', '--grad_clip=0.5']


def train(out, *args):
    result = run_script(SCRIPT, *TINY, f'--out_dir={out}', f'--visuals_dir={out}/visuals', *args)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def train_here(monkeypatch, out, *args):
    """train() in this process, every model one after another (run_main)."""
    result = run_main(monkeypatch, SCRIPT, *TINY, f'--out_dir={out}', f'--visuals_dir={out}/visuals', '--jobs=1', *args)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def rows(out, model, split='train', seed=0):
    frame = pd.read_csv(os.path.join(out, 'train_log.csv'))
    chosen = (frame['model'] == model) & (frame['split'] == split) & (frame['train_seed'] == seed)
    return frame[chosen].sort_values('step').reset_index(drop=True)


@pytest.fixture(scope='module')
def tiny_run(tmp_path_factory):
    """Two training seeds of three models, one after another in one process (test_parallel_seeds_resume_separately
    runs them as parallel processes, and checks that they give the same models)."""
    out = tmp_path_factory.mktemp('train')
    with pytest.MonkeyPatch.context() as monkeypatch:
        return out, train_here(monkeypatch, out, '--train_seeds=0,1').stdout


def test_seeds_train_into_family_folders(tiny_run):
    out, stdout = tiny_run
    for name in ('monolingual', 'bilingual', 'control'):
        assert sorted(p for p in os.listdir(out / name) if p.startswith('seed_')) == ['seed_0', 'seed_1']
        first, second = (load_file(out / name / f'seed_{s}' / 'model.safetensors') for s in (0, 1))
        assert not torch.equal(first['transformer.h.0.attn.c_attn.weight'], second['transformer.h.0.attn.c_attn.weight'])
        # the same tokenizer for every seed of a model
        assert (AutoTokenizer.from_pretrained(out / name / 'seed_0').get_vocab()
                == AutoTokenizer.from_pretrained(out / name / 'seed_1').get_vocab())
        assert (rows(out, name, seed=0)['loss'] != rows(out, name, seed=1)['loss']).any()


def test_models_are_hf_dirs_with_checkpoints(tiny_run):
    out, _ = tiny_run
    for name, steps in (('monolingual', 8), ('bilingual', 8), ('control', 4)):  # a checkpoint every 4 steps
        model = AutoModelForCausalLM.from_pretrained(out / name / 'seed_0')
        tokenizer = AutoTokenizer.from_pretrained(out / name / 'seed_0')
        assert tokenizer.pad_token == tokenizer.eos_token == '<|endoftext|>'  # GPT-2 style padding
        assert len(tokenizer) == model.config.vocab_size == 400 and model.config.n_positions == 32
        ids = tokenizer('In the beginning God created the heavens', return_tensors='pt')['input_ids']
        assert math.isfinite(model(ids, labels=ids).loss.item())
        assert sorted(p for p in os.listdir(out / name / 'seed_0') if p.startswith('step_')) == \
            sorted(f'step_{step}' for step in range(4, steps + 1, 4))  # named by the step they hold
        # the last checkpoint is the final model
        final = load_file(out / name / 'seed_0' / 'model.safetensors')
        last = load_file(out / name / 'seed_0' / f'step_{steps}' / 'model.safetensors')
        assert all(torch.equal(final[k], last[k]) for k in final)
    # one tokenizer for the three models (tokenization=shared, the default): the same file, byte for byte, which learned
    # both languages' words
    files = {(out / name / f'seed_{seed}' / 'tokenizer.json').read_bytes() for name in ('monolingual', 'bilingual', 'control')
             for seed in (0, 1)}
    assert files == {(out / 'tokenizer' / 'tokenizer.json').read_bytes()}
    shared = AutoTokenizer.from_pretrained(out / 'tokenizer')
    assert len(shared('І сказав Бог: Хай станеться світло!')['input_ids']) < 0.7 * len('І сказав Бог: Хай станеться світло!'.encode())
    summary = json.load(open(out / 'summary.json'))
    assert summary['tokenization'] == 'shared' and summary['models']['control']['steps'] == 4
    assert summary['models']['bilingual']['bytes_per_token'] == summary['models']['monolingual']['bytes_per_token']


def test_own_tokenizers_and_the_control_matched_on_english_bytes(tmp_path, monkeypatch):
    """tokenization=own, the paper's design: each model a BPE of its own training text (the bilingual one cuts Ukrainian
    finer and English coarser), and the control trained for the bilingual model's English bytes: fewer steps where
    its English tokenizer packs more bytes into a token. lang2_only, the reference for the bilingual model's second
    language: every sequence in it, for max_steps, a BPE of its own text, and its held-out loss on the second
    language's held-out text (the score test_gpt2.py would give it there)."""
    out = tmp_path / 'own'
    train_here(monkeypatch, out, '--tokenization=own', '--train_seeds=0', '--max_steps=20', '--eval_interval=20',
               '--checkpoint_interval=20', '--train_models=monolingual,bilingual,control,lang2_only')
    bilingual, english, lang2 = (AutoTokenizer.from_pretrained(out / name / 'tokenizer')
                                 for name in ('bilingual', 'monolingual', 'lang2_only'))
    uk = 'І сказав Бог: Хай станеться світло!'
    assert len(bilingual(uk)['input_ids']) < 0.7 * len(english(uk)['input_ids'])
    assert len(lang2(uk)['input_ids']) < 0.7 * len(english(uk)['input_ids'])
    seen = json.load(open(out / 'summary.json'))['models']
    ratio = seen['bilingual']['bytes_per_token']['en'] / seen['control']['bytes_per_token']['en']
    assert ratio < 1 and seen['control']['steps'] == round(20 * 2 / 4 * ratio)  # half the batch English
    assert not (out / 'tokenizer').exists()
    alone = seen['lang2_only']
    assert alone['steps'] == 20 and alone['en_tokens'] == 0 and alone['lang2_tokens'] == alone['tokens'] == 20 * 4 * 32
    assert alone['second_language_sequences_per_step'] == alone['sequences_per_step'] == 4
    model = AutoModelForCausalLM.from_pretrained(out / 'lang2_only' / 'seed_0')
    held_out = evaluate_text(model, lang2, (out / 'eval_lang2.txt').read_text(encoding='utf-8'), max_length=32,
                             stride=32, batch_size=64)
    assert rows(out, 'lang2_only', 'eval')['bpb'].iloc[-1] == pytest.approx(held_out.bpb, rel=1e-6)


def test_equal_budgets_and_control_tokens(tiny_run):
    out, _ = tiny_run
    last = {name: rows(out, name).iloc[-1] for name in ('monolingual', 'bilingual', 'control')}
    tokens = 8 * 4 * 32  # steps x batch x block
    assert last['monolingual']['step'] == last['bilingual']['step'] == 8
    assert last['monolingual']['tokens'] == last['bilingual']['tokens'] == tokens
    assert last['monolingual']['en_tokens'] == tokens and last['monolingual']['lang2_tokens'] == 0
    assert last['bilingual']['en_tokens'] == last['bilingual']['lang2_tokens'] == tokens // 2
    # the control: the bilingual model's English bytes (with one tokenizer, its tokens), in half the steps
    assert last['control']['step'] == 4 and last['control']['en_tokens'] == last['bilingual']['en_tokens']
    assert last['control']['lang2_tokens'] == 0
    assert all(last[name]['en_bytes'] > 0 for name in last) and last['bilingual']['lang2_bytes'] > 0
    for name in last:
        state = json.load(open(out / name / 'seed_0' / 'trainer_state.json'))
        assert state['step'] == last[name]['step'] and state['en_tokens'] == last[name]['en_tokens']
    # held-out evaluations at step 0 and at every checkpoint
    assert rows(out, 'bilingual', 'eval')['step'].tolist() == [0, 4, 8]
    assert rows(out, 'control', 'eval')['step'].tolist() == [0, 4]


def test_learning_rate_schedule(tiny_run):
    """Linear warm-up from 0 over 2 steps, then a cosine to 0.1 x the peak at the model's last step."""
    out, _ = tiny_run
    for name, steps in (('monolingual', 8), ('control', 4)):
        logged = rows(out, name)
        assert logged['step'].tolist() == list(range(1, steps + 1))
        for step, lr in zip(logged['step'], logged['lr']):
            k = step - 1  # scheduler steps taken before this optimizer step
            factor = k / 2 if k < 2 else 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * (k - 2) / (steps - 2)))
            assert lr == pytest.approx(0.01 * factor, abs=1e-12)


def test_gradient_clipping_takes_effect(tiny_run):
    out, _ = tiny_run
    logged = pd.concat([rows(out, name) for name in ('monolingual', 'bilingual', 'control')])
    assert (logged['grad_norm'] > 0.5).sum() >= 5  # clipping had work to do
    expected = logged['grad_norm'].clip(upper=0.5)
    assert logged['clipped_grad_norm'].to_numpy() == pytest.approx(expected.to_numpy(), rel=1e-4)


def test_held_out_books_absent_from_training_text(tiny_run):
    out, stdout = tiny_run
    books = corpora.DEFAULT_EVAL_BOOKS
    english, ukrainian = corpora.english_verses(), corpora.ukrainian_verses()
    lines = lambda path: open(out / path, encoding='utf-8').read().splitlines()
    eval_en, train_en, train_lang2 = lines('eval_en.txt'), lines('train_en.txt'), lines('train_lang2.txt')
    held_out = dict(zip(corpora.chapters(english, books=books), range(10**6)))
    assert len(eval_en) == 24 and all(chapter in held_out for chapter in eval_en)
    assert len(train_en) == len(train_lang2) == 24
    assert set(train_en) <= set(corpora.chapters(english, exclude_books=books))
    assert set(train_lang2) <= set(corpora.chapters(ukrainian, exclude_books=books))
    # no held-out verse, in either language, anywhere in the training text (long verses: short ones repeat)
    for verses, text in ((english, '\n'.join(train_en)), (ukrainian, '\n'.join(train_lang2))):
        held = [t for v, t in verses.items() if corpora.book_of(v) in books and len(t) > 60]
        assert len(held) > 500 and not any(t in text for t in held)
    # the training text spans the Bible around the held-out books (the subset is spread evenly)
    trained_books = {corpora.book_of(v) for v, t in english.items() if t in '\n'.join(train_en)}
    assert min(trained_books) < 8 < 21 < max(trained_books) and len(trained_books) >= 15


def test_figure_and_config(tiny_run, tmp_path, monkeypatch):
    out, _ = tiny_run
    assert (out / 'visuals' / 'gpt2_training.png').stat().st_size > 10_000
    # the figure shows what its labels say: each model's mean held-out bits per byte at each evaluation
    from robustness import plots
    drawn = []
    monkeypatch.setattr(plots, 'save', lambda fig, path: drawn.append(fig))
    log = pd.read_csv(out / 'train_log.csv')
    plots.draw_training(log, tmp_path / 'training.png')
    held_out = log[log['split'] == 'eval'].groupby(['model', 'tokens'])['bpb'].mean()
    ax = drawn[0].axes[0]
    assert 'bits per byte' in ax.get_ylabel() and 'tokens' in ax.get_xlabel()
    lines = {container.get_label(): container.lines[0] for container in ax.containers}  # errorbar: (line, caps, bars)
    assert set(lines) == set(log['model'])
    for model, line in lines.items():
        assert list(line.get_xdata()) == list(held_out[model].index)
        assert np.allclose(line.get_ydata(), held_out[model].to_numpy(), rtol=1e-12)
    config = json.load(open(out / 'config.json'))
    assert config['max_steps'] == 8 and config['train_models'] == ['monolingual', 'bilingual', 'control']


def test_exact_resume(tiny_run, tmp_path, monkeypatch):
    """Stopped after step 6 (as if killed, with the last checkpoint at step 4) and resumed: the same
    losses, learning rates, gradient norms, held-out bpb and final weights as the uninterrupted run."""
    reference, _ = tiny_run
    stopped = train_here(monkeypatch, tmp_path, '--train_models=monolingual', '--stop_after=6', '--train_seeds=0')
    assert 'stopped at step 6' in stopped.stdout
    family = tmp_path / 'monolingual' / 'seed_0'
    assert (family / 'step_4').exists() and not (family / 'step_8').exists()
    assert not (family / 'model.safetensors').exists()
    resumed = train_here(monkeypatch, tmp_path, '--train_models=monolingual', '--train_seeds=0')
    assert 'resuming from' in resumed.stdout and 'at step 4' in resumed.stdout
    columns = ['step', 'tokens', 'en_bytes', 'loss', 'lr', 'grad_norm', 'clipped_grad_norm']
    pd.testing.assert_frame_equal(rows(tmp_path, 'monolingual')[columns], rows(reference, 'monolingual')[columns])
    pd.testing.assert_frame_equal(rows(tmp_path, 'monolingual', 'eval')[['step', 'bpb']],
                                  rows(reference, 'monolingual', 'eval')[['step', 'bpb']])
    a, b = load_file(family / 'model.safetensors'), load_file(reference / 'monolingual' / 'seed_0' / 'model.safetensors')
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_parallel_seeds_resume_separately(tiny_run, tmp_path, monkeypatch):
    """Two seeds in parallel processes, both stopped after step 6, and the run started again (in one process):
    each seed resumes from its own checkpoint and ends with the weights of the uninterrupted run."""
    reference, _ = tiny_run
    train(tmp_path, '--train_models=monolingual', '--train_seeds=0,1', '--stop_after=6')
    assert not any((tmp_path / 'monolingual' / f'seed_{s}' / 'model.safetensors').exists() for s in (0, 1))
    assert all('stopped at step 6' in open(tmp_path / 'logs' / f'monolingual_seed{s}.out').read() for s in (0, 1))
    resumed = train_here(monkeypatch, tmp_path, '--train_models=monolingual', '--train_seeds=0,1')  # in one process
    assert resumed.stdout.count('at step 4') == 2
    for seed in (0, 1):
        a = load_file(tmp_path / 'monolingual' / f'seed_{seed}' / 'model.safetensors')
        b = load_file(reference / 'monolingual' / f'seed_{seed}' / 'model.safetensors')
        assert all(torch.equal(a[k], b[k]) for k in a)
        assert rows(tmp_path, 'monolingual', seed=seed)['loss'].tolist() == rows(reference, 'monolingual', seed=seed)['loss'].tolist()


def test_torchrun_two_cpu_processes(tiny_run, tmp_path):
    """2 gloo processes x 2 sequences per batch: each process takes its shard of the same permutation,
    so the run sees the rows that one process with batches of 4 sees: the same losses, up to rounding."""
    reference, _ = tiny_run
    command = [sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node=2', SCRIPT, *TINY,
               '--batch_size=2', '--train_models=bilingual', '--train_seeds=0', f'--out_dir={tmp_path}',
               f'--visuals_dir={tmp_path}']
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONUNBUFFERED='1', MPLBACKEND='Agg', **OFFLINE)
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert 'the 2 processes hold the same final weights' in result.stdout
    ddp, single = rows(tmp_path, 'bilingual'), rows(reference, 'bilingual')
    assert ddp['tokens'].tolist() == single['tokens'].tolist()  # 2 processes x 2 = 1 x 4 sequences per step
    assert ddp['en_bytes'].tolist() == single['en_bytes'].tolist()  # the same rows
    assert ddp['loss'].to_numpy() == pytest.approx(single['loss'].to_numpy(), rel=1e-4)
    assert rows(tmp_path, 'bilingual', 'eval')['bpb'].to_numpy() == pytest.approx(
        rows(reference, 'bilingual', 'eval')['bpb'].to_numpy(), rel=1e-4)


@pytest.fixture(scope='module')
def local_gpt2(tmp_path_factory):
    """A tiny pretrained-style GPT-2 dir (16 positions) with a byte-level tokenizer that has no pad token."""
    path = tmp_path_factory.mktemp('tiny_gpt2')
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer, tokenizer.decoder = pre_tokenizers.ByteLevel(add_prefix_space=False), decoders.ByteLevel()
    tokenizer.train_from_iterator(corpora.chapters(corpora.english_verses(), books={1}), trainers.BpeTrainer(
        vocab_size=280, special_tokens=['<|endoftext|>'], initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False))
    PreTrainedTokenizerFast(tokenizer_object=tokenizer, eos_token='<|endoftext|>').save_pretrained(path)
    torch.manual_seed(0)
    GPT2LMHeadModel(GPT2Config(vocab_size=280, n_positions=16, n_embd=32, n_layer=1, n_head=2,
                               bos_token_id=0, eos_token_id=0)).save_pretrained(path)
    return path


def test_init_from_local_dir_and_user_files(local_gpt2, tmp_path, monkeypatch):
    """With tokenization=own, a pretrained local dir keeps its tokenizer (monolingual) or gets a resized new BPE
    (bilingual); a user's English file holds out its last documents; undecodable bytes are replaced and counted, the
    same number on every row of the log."""
    english = write(tmp_path / 'en.txt', '\n'.join(corpora.chapters(corpora.english_verses(), books={1})).encode()
                    + b'\nbad \xff\xfe bytes here\n')
    train_here(monkeypatch, tmp_path, f'--init_from={local_gpt2}', '--block_size=16', '--max_steps=2', '--eval_interval=2',
          '--train_models=monolingual,bilingual', f'--train_file={english}', '--eval_fraction=0.3', '--max_docs=0',
          '--train_seeds=0', '--tokenization=own')
    mono, bi = (AutoModelForCausalLM.from_pretrained(tmp_path / name / 'seed_0') for name in ('monolingual', 'bilingual'))
    assert len(AutoTokenizer.from_pretrained(tmp_path / 'monolingual' / 'seed_0')) == mono.config.vocab_size == 280  # kept
    assert AutoTokenizer.from_pretrained(tmp_path / 'monolingual' / 'seed_0').pad_token == '<|endoftext|>'
    assert len(AutoTokenizer.from_pretrained(tmp_path / 'bilingual' / 'seed_0')) == bi.config.vocab_size == 400  # new BPE
    assert mono.config.n_embd == 32 and mono.config.n_positions == 16  # the pretrained architecture
    logged = pd.read_csv(tmp_path / 'train_log.csv')
    assert (logged['replaced_bytes'] == 2).all()
    eval_lines = open(tmp_path / 'eval_en.txt', encoding='utf-8').read().splitlines()
    assert len(eval_lines) == round(51 * 0.3) and eval_lines[-1] == 'bad \ufffd\ufffd bytes here'


def write(path, data):
    path.write_bytes(data)
    return path


def test_each_training_seed_fine_tunes_its_own_base(local_gpt2, tmp_path, monkeypatch):
    """init_from with '{seed}': the model of training seed s starts from base s (the replicated fine-tune design); a
    seed whose base is missing is a one-line error before any training."""
    import shutil
    for seed, value in ((0, 0.5), (1, -0.5)):  # two bases that differ in one known weight
        shutil.copytree(local_gpt2, tmp_path / 'bases' / f'seed_{seed}')
        base = AutoModelForCausalLM.from_pretrained(tmp_path / 'bases' / f'seed_{seed}')
        with torch.no_grad():
            base.transformer.h[0].attn.c_attn.bias.fill_(value)
        base.save_pretrained(tmp_path / 'bases' / f'seed_{seed}')
    out = tmp_path / 'out'
    train_here(monkeypatch, out, f'--init_from={tmp_path / "bases" / "seed_{seed}"}', '--block_size=16', '--max_steps=1',
               '--eval_interval=1', '--learning_rate=1e-9', '--warmup_steps=0', '--train_models=monolingual',
               '--train_seeds=0,1')
    for seed, value in ((0, 0.5), (1, -0.5)):
        model = AutoModelForCausalLM.from_pretrained(out / 'monolingual' / f'seed_{seed}')
        assert torch.allclose(model.transformer.h[0].attn.c_attn.bias, torch.full_like(model.transformer.h[0].attn.c_attn.bias, value), atol=1e-6)
    message = one_line_error(run_in_process(monkeypatch, SCRIPT, *TINY, f'--out_dir={tmp_path / "x"}', '--train_seeds=0,2',
                                            f'--init_from={tmp_path / "bases" / "seed_{seed}"}', '--block_size=16'))
    assert message.startswith('error: init_from') and 'seed_2' in message and not (tmp_path / 'x').exists()
