"""Train a monolingual, a bilingual and a control GPT-2 with equal budgets.

The paper (Multitasking Models are Robust to Structural Failure, NeurIPS 2022) fine-tuned GPT-2 on
English news (the monolingual model) and on English + Greek with a new bilingual BPE tokenizer (the
bilingual model), then compared how they degrade when weights are deleted (test_gpt2.py). This
script trains both, plus a control:

    monolingual  English only
    bilingual    English + a second language, mixed in every batch (lang2_fraction of its sequences)
    control      English only, for as many English tokens as the bilingual model saw (fewer steps):
                 it separates "bilingual" from "trained on less English"

All three share the architecture, the batch and the sequence length; monolingual and bilingual take
the same optimizer steps. Held-out English loss, perplexity and bits-per-byte (which, unlike
perplexity, compares models with different tokenizers) are measured at every checkpoint.

Offline default: from scratch on the World English Bible vs the Ukrainian Bible (pip-installed text),
five whole books held out of training in both languages (robustness.corpora.DEFAULT_EVAL_BOOKS), a
byte-level BPE of `vocab_size` trained on each model's own training text.

    python train_bilingual_gpt2.py                                 # offline default, 2 CPU cores
    OMP_NUM_THREADS=1 python train_bilingual_gpt2.py               # on a CPU shared with other jobs
    python train_bilingual_gpt2.py --max_steps=50 --eval_interval=25 --n_layer=1 --n_embd=32   # smoke test
    python train_bilingual_gpt2.py --init_from=gpt2 --train_file=vblagoje/cc_news \\
        --second_file=wikimedia/wikipedia:20231101.el --block_size=1024 ...            # the paper's setting
    torchrun --standalone --nproc_per_node=8 train_bilingual_gpt2.py --init_from=gpt2 ...    # 8 GPUs, DDP

Training seeds: every model is trained once per seed in `train_seeds` (initialisation, data order and
dropout differ), so that robustness comparisons can count the variation between trainings. On a CPU the
models (each model x seed) run in parallel processes with one thread each, `jobs` at a time; on a GPU, one
after another.

Writes, in out_dir: <model>/seed_<s>/ (final Hugging Face model + tokenizer dir of each seed),
<model>/seed_<s>/step_<n>/ (a checkpoint every eval_interval steps, n its step; each also holds
optimizer.pt (optimizer, scheduler and every process's RNG state) and trainer_state.json (step, tokens
and bytes seen per language)), <model>/tokenizer/ (shared by the seeds), eval_en.txt (the held-out
English text, one document per line; test_gpt2.py's default), train_en.txt / train_lang2.txt (the
training text), train_log.csv (every model and seed; logs/ holds each one's own log and process output),
config.json; and visuals_dir/gpt2_training.png.

Tokenizers: with init_from=scratch each model gets a byte-level BPE trained on its own training text
(English for monolingual and control, the mix for bilingual). With a pretrained init_from (a hub name
such as gpt2, or a local dir) the monolingual and control models keep its tokenizer and the bilingual
model gets a new bilingual BPE of `vocab_size` with the embedding matrix resized to it, as the paper
did (the rows of the old embedding then stand for other strings: the model relearns them). The
saved tokenizers use the end-of-text token as padding token (GPT-2 has none).

Exact resume: the data order is a function of the seed and the step, and each checkpoint holds the
optimizer, scheduler and RNG states, so a killed run restarted with the same settings (resume=True,
the default) continues from its last checkpoint with the same losses as an uninterrupted run. A
finished model is skipped on a rerun.
"""

import contextlib
import functools
import json
import math
import os
import time
from typing import NamedTuple

import pandas as pd
import torch
import transformers
from tokenizers import models as bpe_models, pre_tokenizers, trainers
from torch.nn.parallel import DistributedDataParallel as DDP
from tqdm import tqdm
from transformers import (AutoConfig, AutoModelForCausalLM, AutoTokenizer, GPT2Config, GPT2LMHeadModel,
                          PreTrainedTokenizerFast, get_cosine_with_min_lr_schedule_with_warmup)

from robustness import corpora, plots
from robustness.checkpoints import END_OF_TEXT, byte_level_bpe, numbered_dirs
from robustness.config import check, check_choices, check_range, configure, save_config
from robustness.hub import from_pretrained
from robustness.lock import claim
from robustness.perplexity import evaluate_text
from robustness.processes import run_units
from robustness.provenance import record_run
from robustness.results import ResultsLog
from robustness.runtime import autocast, seed_everything, setup, teardown

# -----------------------------------------------------------------------------
# data
train_file = ''            # English: a text file with one document per line, or a HF dataset name[:config]; '' = World English Bible
second_file = ''           # second language, same forms; '' = Ukrainian Bible
eval_fraction = 0.05       # user corpora: the last fraction of the English documents is held out for evaluation
max_docs = 0               # at most this many training (and evaluation) documents per language, picked evenly; 0 = all (a HF dataset streams 100000)
# models
train_models = ['monolingual', 'bilingual', 'control']  # which of the three models to train
init_from = 'scratch'      # scratch | a HF causal LM name (gpt2) | a local model dir; pretrained models keep their architecture; '{seed}' in it stands for the training seed (each seed fine-tunes a base of its own)
vocab_size = 2048          # byte-level BPE vocabulary (from scratch; the bilingual tokenizer of a pretrained model)
n_layer = 4                # transformer blocks (from scratch)
n_head = 4                 # attention heads (from scratch)
n_embd = 128               # embedding width (from scratch)
dropout = 0.0              # dropout (from scratch)
block_size = 128           # tokens per training sequence (and held-out evaluation window)
# training
lang2_fraction = 0.5       # share of each bilingual batch's sequences in the second language
batch_size = 16            # sequences per micro-batch, per process
grad_accum = 1             # micro-batches per optimizer step
max_steps = 300            # optimizer steps of monolingual and bilingual (control: fewer, for the bilingual model's English tokens)
learning_rate = 2e-3       # peak learning rate (AdamW)
min_lr_ratio = 0.1         # the cosine decays to learning_rate * min_lr_ratio at the last step
warmup_steps = 30          # linear warm-up steps
weight_decay = 0.1         # AdamW weight decay of the matrices (not of biases and norms)
beta1 = 0.9                # AdamW beta1
beta2 = 0.95               # AdamW beta2
grad_clip = 1.0            # clip the global gradient norm to this after backward (0 = no clipping)
eval_interval = 150        # steps between held-out evaluations + checkpoints <model>/seed_<s>/step_<n>/
eval_stride = 0            # held-out sliding-window stride in tokens (0 = block_size: windows overlap by one token)
eval_batch_size = 32       # held-out windows per forward pass
log_interval = 10          # steps between rows of train_log.csv
train_seeds = [1337, 1338, 1339]  # one model of each kind per seed (initialisation, data order, dropout): out_dir/<model>/seed_<s>/
jobs = 0                   # CPU: models (model x seed) trained at once, one process and one thread each (0 = as many as cores)
device = 'auto'            # auto | cpu | cuda
compile = False            # torch.compile the model (CUDA; slow to start, faster to run)
resume = True              # continue from the latest checkpoint in out_dir; finished models are skipped
stop_after = 0             # stop, as if killed (nothing saved), once a model reaches this step; for testing resume (0 = never)
out_dir = 'results/train_bilingual_gpt2'  # models, logs and held-out text
visuals_dir = 'visuals'    # where gpt2_training.png goes
# -----------------------------------------------------------------------------
config = configure(globals())

MODELS = ('monolingual', 'bilingual', 'control')
check_choices('train_models', train_models, MODELS)
check(train_models, "train_models: name at least one model")
check_range('lang2_fraction', lang2_fraction, 0, 1)
check_range('eval_fraction', eval_fraction, 0, 1)
check(0 < eval_fraction < 1, f"eval_fraction: {eval_fraction} must lie strictly between 0 and 1")
for name in ('batch_size', 'eval_batch_size', 'grad_accum', 'max_steps', 'eval_interval', 'log_interval', 'block_size'):
    check_range(name, config[name], 1)
for name in ('max_docs', 'warmup_steps', 'eval_stride', 'stop_after', 'weight_decay', 'grad_clip', 'dropout'):
    check_range(name, config[name], 0)
check_range('min_lr_ratio', min_lr_ratio, 0, 1)
check(learning_rate > 0, f"learning_rate: {learning_rate} must be positive")
check(eval_stride <= block_size, f"eval_stride: {eval_stride} is longer than block_size {block_size}")
check(block_size >= 2, f"block_size: {block_size} leaves nothing to predict; use at least 2")
lang2_rows = round(batch_size * lang2_fraction)  # second-language sequences in each bilingual micro-batch
check(abs(batch_size * lang2_fraction - lang2_rows) < 1e-9,
      f"lang2_fraction: batch_size * lang2_fraction = {batch_size * lang2_fraction:g} must be a whole number of sequences")
# the control sees the bilingual model's English tokens: the same batch, fewer steps
control_steps = round(max_steps * (batch_size - lang2_rows) / batch_size)
check('control' not in train_models or control_steps >= 1,
      f"max_steps: {max_steps} steps with lang2_fraction {lang2_fraction} leave the control model 0 steps (it trains "
      f"on the bilingual model's English share of them); raise max_steps or lower lang2_fraction")
scratch = init_from == 'scratch'
if scratch:
    check(vocab_size >= 257, f"vocab_size: {vocab_size} is smaller than a byte-level BPE's 256 bytes + end-of-text")
    check(n_embd % n_head == 0, f"n_embd: {n_embd} is not divisible by n_head {n_head}")
check(train_seeds and all(isinstance(s, int) for s in train_seeds) and len(set(train_seeds)) == len(train_seeds),
      f"train_seeds: {train_seeds} must be distinct integers, at least one")
check_range('jobs', jobs, 0)
log_path = os.path.join(out_dir, 'train_log.csv')  # every model's and seed's rows; each also logs to logs/ as it trains
check(resume or not os.path.exists(log_path),
      f"resume: {out_dir} already holds a training run; pass --resume=True to continue it, or choose another out_dir")

# Corpora -----------------------------------------------------------------------------------------


def evenly(documents, count):
    """At most `count` of the documents, spread evenly through them (all when count is 0)."""
    if not count or count >= len(documents):
        return documents
    return [documents[i * len(documents) // count] for i in range(count)]


def load_documents(value, setting):
    """(documents, replaced undecodable bytes) of a text file or, online, a HF dataset name[:config[:split]]."""
    if corpora.is_text_file(value):
        return corpora.read_documents(value, setting)
    # a document is one line: newlines inside a document become spaces
    documents = [' '.join(text.split()) for text in corpora.hub_texts(value, setting, 'train', max_docs or 100_000)]
    documents = [d for d in documents if d]
    check(documents, f"{setting}: the dataset {value!r} has no text")
    return documents, 0


LOG_COLUMNS = ['model', 'train_seed', 'split', 'step', 'tokens', 'en_tokens', 'lang2_tokens', 'en_bytes', 'lang2_bytes',
               'loss', 'ppl', 'bpb', 'lr', 'grad_norm', 'clipped_grad_norm', 'tokens_per_s', 'replaced_bytes']


def unit_log(name, seed):
    """The training log of one model and seed (master only): models trained in parallel processes never share a file."""
    return ResultsLog(os.path.join(out_dir, 'logs', f'train_log_{name}_seed{seed}.csv'), LOG_COLUMNS,
                      key=('model', 'train_seed', 'split', 'step')) if rt.is_master else None


# Tokenizers and token streams --------------------------------------------------------------------

def train_bpe(documents):
    """A byte-level BPE of vocab_size trained on the documents, as a transformers tokenizer."""
    tokenizer = byte_level_bpe(bpe_models.BPE())
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[END_OF_TEXT], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tokenizer.train_from_iterator(documents, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, bos_token=END_OF_TEXT, eos_token=END_OF_TEXT,
                                   unk_token=END_OF_TEXT, pad_token=END_OF_TEXT)


def build_tokenizer(name):
    """Master builds (or, on resume, finds) the model's tokenizer in out_dir/<name>/tokenizer; every rank loads it."""
    path = os.path.join(out_dir, name, 'tokenizer')
    if rt.is_master and not os.path.exists(os.path.join(path, 'tokenizer.json')):
        if scratch or name == 'bilingual':
            tokenizer = train_bpe(train_en + train_lang2 if name == 'bilingual' else train_en)
        else:
            tokenizer = pretrained_tokenizer
            if tokenizer.pad_token is None:
                tokenizer.pad_token = tokenizer.eos_token
        tokenizer.save_pretrained(path)
    if rt.distributed:
        torch.distributed.barrier()
    return AutoTokenizer.from_pretrained(path)


def sequences(tokenizer, documents):
    """The documents as one token stream (end-of-text after each) cut into rows of block_size tokens,
    and the UTF-8 bytes each row stands for."""
    ids = tokenizer(documents, add_special_tokens=False, verbose=False)['input_ids']
    stream = torch.tensor([t for doc in ids for t in doc + [tokenizer.eos_token_id]], dtype=torch.long)
    rows = stream[:len(stream) // block_size * block_size].view(-1, block_size)
    check(len(rows) >= rt.world_size * batch_size,
          f"max_docs: {len(stream):,} tokens of text make too few sequences of block_size {block_size} for one batch")
    row_bytes = torch.tensor([len(text.encode('utf-8')) for text in tokenizer.batch_decode(rows, skip_special_tokens=True)])
    return rows, row_bytes


@functools.lru_cache(maxsize=16)
def epoch_order(n_rows, stream_seed, epoch, rank):
    """Process `rank`'s shard of epoch `epoch`'s permutation of n_rows rows (seeded by the stream and the
    epoch), as DistributedSampler with set_epoch deals them out; the whole permutation on one process."""
    order = torch.randperm(n_rows, generator=torch.Generator().manual_seed(stream_seed + epoch))
    return order[rank::rt.world_size][:n_rows // rt.world_size]


def take(n_rows, start, count, stream_seed, rank=None):
    """Row indices [start, start + count) of process `rank`'s (default: this process's) endless stream: epoch after
    epoch of a fresh permutation. A function of the position only: that makes resume exact."""
    rank = rt.rank if rank is None else rank
    per_rank = n_rows // rt.world_size
    return torch.stack([epoch_order(n_rows, stream_seed, position // per_rank, rank)[position % per_rank]
                        for position in range(start, start + count)])


# Training ----------------------------------------------------------------------------------------

class Stream(NamedTuple):
    """One language's share of every micro-batch: its token rows, the UTF-8 bytes each row stands for, how many rows
    it gives each micro-batch, and the seed of its data order."""
    rows: torch.Tensor
    row_bytes: torch.Tensor
    per_batch: int
    seed: int



def model_dir(name, seed):
    return os.path.join(out_dir, name, f'seed_{seed}')


def checkpoints(name, seed):
    """(step, dir) of every saved state of a model, the final dir included, latest last."""
    found = []
    for path in [model_dir(name, seed)] + [path for _, path in numbered_dirs(model_dir(name, seed), 'step_')]:
        if os.path.exists(os.path.join(path, 'trainer_state.json')):
            with open(os.path.join(path, 'trainer_state.json')) as f:
                found.append((json.load(f)['step'], path))
    return sorted(found)


def save_checkpoint(path, model, tokenizer, optimizer, scheduler, state):
    """A HF model+tokenizer dir, plus optimizer.pt (optimizer, scheduler and every process's RNG state)
    and trainer_state.json (step and tokens seen; written last, it marks the dir complete)."""
    rng = {'cpu': torch.get_rng_state(), 'cuda': torch.cuda.get_rng_state() if rt.device.type == 'cuda' else None}
    ranks_rng = [rng]
    if rt.distributed:
        ranks_rng = [None] * rt.world_size
        torch.distributed.all_gather_object(ranks_rng, rng)
    if rt.is_master:
        os.makedirs(path, exist_ok=True)
        model.save_pretrained(path)
        tokenizer.save_pretrained(path)
        torch.save({'optimizer': optimizer.state_dict(), 'scheduler': scheduler.state_dict(), 'rng': ranks_rng},
                   os.path.join(path, 'optimizer.pt'))
        with open(os.path.join(path, 'trainer_state.json'), 'w') as f:
            json.dump(state, f, indent=2)
    if rt.distributed:
        torch.distributed.barrier()


def evaluate(name, seed, log, model, tokenizer, state):
    """Held-out English loss, perplexity and bits-per-byte, logged as an 'eval' row (master only)."""
    if not rt.is_master or log.has(model=name, train_seed=seed, split='eval', step=state['step']):
        return
    result = evaluate_text(model, tokenizer, eval_text, max_length=block_size, stride=eval_stride or block_size,
                           batch_size=eval_batch_size)
    log.write(dict(model=name, train_seed=seed, split='eval', step=state['step'], **counts(state),
                   loss=result.nll / result.tokens, ppl=result.ppl, bpb=result.bpb, replaced_bytes=replaced_en))
    tqdm.write(f"{name} seed {seed} step {state['step']}: held-out English loss {result.nll / result.tokens:.4f}, "
               f"ppl {result.ppl:.2f}, {result.bpb:.4f} bits per byte")


def counts(state):
    return {key: state[key] for key in ('tokens', 'en_tokens', 'lang2_tokens', 'en_bytes', 'lang2_bytes')}


def new_model(name, seed, tokenizer, saved):
    """The model to train: from its latest checkpoint, from scratch, or from init_from (the bilingual model with its
    new tokenizer's embeddings)."""
    if saved:
        return AutoModelForCausalLM.from_pretrained(saved[-1][1])
    if scratch:
        # GPT-2's tanh GELU as one fused op (gelu_pytorch_tanh, the same function as gelu_new): 1.18x the steps/s on
        # one CPU thread (bench/bench_train_speed.py)
        return GPT2LMHeadModel(GPT2Config(
            vocab_size=len(tokenizer), n_positions=block_size, n_embd=n_embd, n_layer=n_layer, n_head=n_head,
            activation_function='gelu_pytorch_tanh',
            resid_pdrop=dropout, embd_pdrop=dropout, attn_pdrop=dropout, bos_token_id=tokenizer.eos_token_id,
            eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.eos_token_id))
    model = from_pretrained(AutoModelForCausalLM, init_paths[seed], 'init_from')
    if name == 'bilingual':  # the new bilingual BPE: resize the embeddings to it, as the paper did
        model.resize_token_embeddings(len(tokenizer))
        model.config.bos_token_id = model.config.eos_token_id = tokenizer.eos_token_id
    model.config.pad_token_id = tokenizer.pad_token_id
    return model


def optimizer_for(model, steps):
    """AdamW (decay on the matrices only) and its schedule: a linear warm-up from 0, then a cosine down to
    min_lr_ratio * learning_rate, stepped per optimizer step."""
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW([{'params': decay, 'weight_decay': weight_decay},
                                   {'params': no_decay, 'weight_decay': 0.0}],
                                  lr=learning_rate, betas=(beta1, beta2), fused=rt.device.type == 'cuda')
    return optimizer, get_cosine_with_min_lr_schedule_with_warmup(optimizer, warmup_steps, steps,
                                                                   min_lr_rate=min_lr_ratio)


def restore(path, optimizer, scheduler, state):
    """Continue exactly where a checkpoint left off: step and token counts, optimizer, schedule, this process's RNG."""
    with open(os.path.join(path, 'trainer_state.json')) as f:
        state.update(json.load(f))
    trainer_state = torch.load(os.path.join(path, 'optimizer.pt'), weights_only=False)
    optimizer.load_state_dict(trainer_state['optimizer'])
    scheduler.load_state_dict(trainer_state['scheduler'])
    rng = trainer_state['rng'][rt.rank]
    torch.set_rng_state(rng['cpu'])
    if rng['cuda'] is not None:
        torch.cuda.set_rng_state(rng['cuda'])


def micro_batch(data, batch, state):
    """This process's sequences of micro-batch `batch` (English rows, then second-language rows), counting the bytes
    of text that every process's rows stand for (the data order is known to all)."""
    parts = []
    for language, stream in data.items():
        if not stream.per_batch:
            continue
        start = batch * stream.per_batch
        parts.append(stream.rows[take(len(stream.rows), start, stream.per_batch, stream.seed)])
        for rank in range(rt.world_size):
            picked = take(len(stream.rows), start, stream.per_batch, stream.seed, rank)
            state[f'{language}_bytes'] += stream.row_bytes[picked].sum().item()
    return torch.cat(parts).to(rt.device, non_blocking=True)


def optimizer_step(model, optimizer, scheduler, data, state, loss_sum, logging):
    """One optimizer step over grad_accum micro-batches; returns the gradient norm before clipping and, on a step
    that is `logging`, after it (None otherwise: an extra pass over the gradients)."""
    for micro in range(grad_accum):
        x = micro_batch(data, state['step'] * grad_accum + micro, state)
        # under DDP the gradients are all-reduced on the last micro-batch only
        sync = model.no_sync() if rt.distributed and micro < grad_accum - 1 else contextlib.nullcontext()
        with sync:
            with autocast(rt.device):
                loss = model(input_ids=x, labels=x).loss / grad_accum
            loss.backward()
        loss_sum += loss.detach()
    # clip after backward: the optimizer steps with the clipped gradients
    grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip if grad_clip > 0 else math.inf)
    clipped_norm = torch.nn.utils.get_total_norm([p.grad for p in model.parameters() if p.grad is not None]) \
        if logging else None
    optimizer.step()
    scheduler.step()
    optimizer.zero_grad(set_to_none=True)
    state['step'] += 1
    for language, stream in data.items():
        state[f'{language}_tokens'] += rt.world_size * grad_accum * stream.per_batch * block_size
    state['tokens'] += rt.world_size * grad_accum * batch_size * block_size
    return grad_norm, clipped_norm


def check_same_weights(name, model):
    """Under DDP the processes must hold the same weights: compare with rank 0's."""
    weights = torch.cat([p.detach().flatten().float() for p in model.parameters()])
    reference = weights.clone()
    torch.distributed.broadcast(reference, src=0)
    difference = (weights - reference).abs().max()
    torch.distributed.all_reduce(difference, op=torch.distributed.ReduceOp.MAX)
    check(difference.item() == 0, f"{name}: the {rt.world_size} processes ended with different weights "
                                  f"(max difference {difference.item():.3g})")
    if rt.is_master:
        print(f"{name}: the {rt.world_size} processes hold the same final weights (max difference 0)")


def start(name, seed, steps, tokenizer, rows_lang2, log):
    """(model, optimizer, scheduler, state) at the latest checkpoint, or new and evaluated once before the first
    step; None when the model is trained already."""
    saved = checkpoints(name, seed) if resume else []
    if saved and saved[-1][0] >= steps:
        if rt.is_master:
            print(f"{name} seed {seed}: already trained ({saved[-1][1]}, step {saved[-1][0]}); skipping")
        return None
    seed_everything(seed)  # the same initial weights on every process (DDP also broadcasts rank 0's)
    model = new_model(name, seed, tokenizer, saved).to(rt.device)
    if rt.is_master and not saved:
        print(f"{name} seed {seed}: {sum(p.numel() for p in model.parameters()):,} parameters, vocabulary "
              f"{len(tokenizer):,}, {steps} steps of {rt.world_size * grad_accum} x {batch_size} sequences of "
              f"{block_size} tokens ({rows_lang2} of each {batch_size} in the second language)")
    optimizer, scheduler = optimizer_for(model, steps)
    state = dict(step=0, tokens=0, en_tokens=0, lang2_tokens=0, en_bytes=0, lang2_bytes=0)
    if saved:
        restore(saved[-1][1], optimizer, scheduler, state)
        if rt.is_master:
            print(f"{name} seed {seed}: resuming from {saved[-1][1]} at step {state['step']}")
    else:
        seed_everything(seed + rt.rank)  # dropout differs across processes
        evaluate(name, seed, log, model, tokenizer, state)
    return model, optimizer, scheduler, state


def stop_as_if_killed(name, seed, state, progress):
    """stop_after: end the process here, saving nothing, as a kill would (the tests of resume use it)."""
    progress.close()
    if rt.is_master:
        print(f"{name} seed {seed}: stopped at step {state['step']} (stop_after), as if killed: nothing saved "
              f"since the last checkpoint")
    teardown(rt)
    raise SystemExit(0)


def evaluate_and_save(name, seed, log, model, tokenizer, optimizer, scheduler, state, steps):
    """Every eval_interval steps and at the end: the held-out evaluation, then checkpoint step_<n>/ and/or the final
    model dir."""
    evaluate(name, seed, log, model, tokenizer, state)
    if state['step'] % eval_interval == 0:
        save_checkpoint(os.path.join(model_dir(name, seed), f"step_{state['step']}"),
                        model, tokenizer, optimizer, scheduler, state)
    if state['step'] == steps:
        save_checkpoint(model_dir(name, seed), model, tokenizer, optimizer, scheduler, state)


def train(name, seed, steps, rows_lang2, data_seed, corpus):
    """Train one model with one training seed for `steps` optimizer steps, `rows_lang2` of each micro-batch's rows in
    the second language, its data order drawn from `data_seed`, on `corpus` (English and second-language training
    documents, and the undecodable bytes they had), resuming from its latest checkpoint, logging and saving as it
    goes. The recipe (batch, block, accumulation, intervals) is the script's settings."""
    tokenizer = build_tokenizer(name)
    data = {'en': Stream(*sequences(tokenizer, corpus['en']), batch_size - rows_lang2, data_seed),
            'lang2': Stream(*(sequences(tokenizer, corpus['lang2']) if rows_lang2 else (None, None)), rows_lang2,
                            data_seed + 500)}
    log = unit_log(name, seed)
    started = start(name, seed, steps, tokenizer, rows_lang2, log)
    if started is None:
        return
    raw_model, optimizer, scheduler, state = started
    model = torch.compile(raw_model) if compile else raw_model
    if rt.distributed:
        model = DDP(model, device_ids=[rt.local_rank] if rt.device.type == 'cuda' else None)
    model.train()
    progress = tqdm(total=steps, initial=state['step'], desc=f'{name} seed {seed}', disable=not rt.is_master,
                    dynamic_ncols=True)
    window_start, window_steps = time.time(), 0
    loss_sum = torch.zeros((), device=rt.device)  # summed over the window of steps since the last log row
    while state['step'] < steps:
        lr = scheduler.get_last_lr()[0]
        logging = (state['step'] + 1) % log_interval == 0 or state['step'] + 1 == steps
        grad_norm, clipped_norm = optimizer_step(model, optimizer, scheduler, data, state, loss_sum, logging)
        window_steps += 1
        progress.update(1)
        if logging:
            if rt.distributed:
                torch.distributed.all_reduce(loss_sum)
            loss_value = loss_sum.item() / rt.world_size / window_steps
            tokens_per_s = window_steps * rt.world_size * grad_accum * batch_size * block_size / (time.time() - window_start)
            progress.set_postfix(loss=f"{loss_value:.3f}", tok_s=f"{tokens_per_s:,.0f}")
            if rt.is_master and not log.has(model=name, train_seed=seed, split='train', step=state['step']):
                log.write(dict(model=name, train_seed=seed, split='train', step=state['step'], **counts(state),
                               loss=loss_value, lr=lr, grad_norm=grad_norm.item(), clipped_grad_norm=clipped_norm.item(),
                               tokens_per_s=tokens_per_s, replaced_bytes=corpus['replaced_bytes']))
            loss_sum.zero_()
            window_start, window_steps = time.time(), 0
        if stop_after and state['step'] == stop_after:
            stop_as_if_killed(name, seed, state, progress)
        if state['step'] % eval_interval == 0 or state['step'] == steps:
            evaluate_and_save(name, seed, log, raw_model, tokenizer, optimizer, scheduler, state, steps)
            window_start = time.time()  # evaluating and saving is not training time
    progress.close()
    if rt.distributed:
        check_same_weights(name, raw_model)
    if rt.is_master:
        print(f"{name} seed {seed}: trained on {state['tokens']:,} tokens ({state['en_tokens']:,} English = "
              f"{state['en_bytes']:,} bytes, {state['lang2_tokens']:,} second language = {state['lang2_bytes']:,} "
              f"bytes); saved {model_dir(name, seed)}")



# Work: the runtime, the corpora, every (model, seed), the figure ---------------------------------------
rt = setup(device)
seed_everything(train_seeds[0])

if not scratch:
    # the base of each training seed; one-line errors for a missing one, an unreachable hub model or a too long
    # block, before any training
    init_paths = {seed: init_from.replace('{seed}', str(seed)) for seed in train_seeds}
    for path in dict.fromkeys(init_paths.values()):
        pretrained_config = from_pretrained(AutoConfig, path, 'init_from')
        positions = getattr(pretrained_config, 'n_positions', None) or getattr(pretrained_config, 'max_position_embeddings', None)
        check(positions is None or block_size <= positions,
              f"block_size: {block_size} is longer than the {positions} positions that {path} allows")
    # the tokenizer of the first base serves every seed (bases of one recipe share theirs)
    pretrained_tokenizer = from_pretrained(AutoTokenizer, init_paths[train_seeds[0]], 'init_from')

transformers.utils.logging.disable_progress_bar()  # no "Writing model shards" bar per checkpoint
if rt.device.type == 'cuda':
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True

if train_file:
    english, replaced_en = load_documents(train_file, 'train_file')
    check(len(english) >= 2, f"train_file: {train_file} has {len(english)} document; need at least 2 to hold one out")
    held_out = max(1, round(len(english) * eval_fraction))
    english = evenly(english, max_docs and max_docs + held_out)
    held_out = max(1, round(len(english) * eval_fraction))
    train_en, eval_en = english[:-held_out], english[-held_out:]
else:
    replaced_en = 0
    train_en = evenly(corpora.chapters(corpora.english_verses('web'), exclude_books=corpora.DEFAULT_EVAL_BOOKS), max_docs)
    eval_en = evenly(corpora.chapters(corpora.english_verses('web'), books=corpora.DEFAULT_EVAL_BOOKS), max_docs)
if second_file:
    train_lang2, replaced_lang2 = load_documents(second_file, 'second_file')
    train_lang2 = evenly(train_lang2, max_docs)
else:
    # the same books are held out of the second language: no model sees a translation of the evaluation text
    replaced_lang2 = 0
    train_lang2 = evenly(corpora.chapters(corpora.ukrainian_verses(), exclude_books=corpora.DEFAULT_EVAL_BOOKS), max_docs)
eval_text = '\n'.join(eval_en) + '\n'  # exactly what eval_en.txt holds

if rt.is_master:
    print(f"English: {len(train_en):,} training documents ({sum(map(len, train_en)):,} characters), "
          f"{len(eval_en):,} held out ({len(eval_text):,} characters); second language: {len(train_lang2):,} documents "
          f"({sum(map(len, train_lang2)):,} characters); undecodable bytes replaced: {replaced_en} English, {replaced_lang2} second")
    claim(out_dir)  # one run per out_dir; forked training processes keep it
    save_config(config, os.path.join(out_dir, 'config.json'))
    for path, documents in (('eval_en.txt', eval_en), ('train_en.txt', train_en), ('train_lang2.txt', train_lang2)):
        with open(os.path.join(out_dir, path), 'w', encoding='utf-8') as f:
            f.write('\n'.join(documents) + '\n')

os.makedirs(os.path.join(out_dir, 'logs'), exist_ok=True)
corpus = dict(en=train_en, lang2=train_lang2, replaced_bytes=replaced_en + replaced_lang2)
units = [(name, seed) for name in MODELS if name in train_models for seed in train_seeds]  # the control (shorter) last
jobs_of_units = []
for name, seed in units:
    steps = control_steps if name == 'control' else max_steps
    rows_lang2 = lang2_rows if name == 'bilingual' else 0
    # the data order's seed; fine-tuning draws from streams of its own, so that a model fine-tuned from a base trained
    # here with the same seed never replays the base's order
    data_seed = seed + 1000 * MODELS.index(name) + (0 if scratch else 100_000)
    jobs_of_units.append((f'{name}_seed{seed}', (name, seed, steps, rows_lang2, data_seed, corpus)))
slots = min(len(units), jobs or os.cpu_count() or 1)
parallel = rt.device.type == 'cpu' and not rt.distributed and slots > 1
if parallel:
    for name in train_models:  # trained once, before the processes share them
        build_tokenizer(name)
# on a CPU each (model, seed) in a single-thread process of its own: a second thread only waits on a small model
run_units(train, jobs_of_units, slots, os.path.join(out_dir, 'logs'), 'train_seeds', parallel=parallel)

# The seeds' logs as one CSV, and the figure: held-out bits-per-byte vs tokens seen ------------------
if rt.is_master:
    frame = pd.concat([pd.read_csv(path) for name, seed in units
                       if os.path.exists(path := os.path.join(out_dir, 'logs', f'train_log_{name}_seed{seed}.csv'))])
    frame = frame.sort_values(['model', 'train_seed', 'split', 'step'], kind='stable')
    frame.to_csv(log_path, index=False)
    held_out = frame[frame['split'] == 'eval']
    fig, axes = plots.figure(ncols=2)
    for ax, x, label in ((axes[0], 'tokens', 'training tokens seen (all languages)'),
                         (axes[1], 'en_tokens', 'English training tokens seen')):
        plots.errorbar_lines(ax, held_out, x, 'bpb', 'model', std_label=False)
        ax.legend(title=f"mean ± std over {len(train_seeds)} seeds" if len(train_seeds) > 1 else f"seed {train_seeds[0]}")
        ax.set_xlabel(label)
        ax.set_ylabel('held-out English bits per byte')
    axes[0].set_title("held-out books of the English text")
    plots.save(fig, os.path.join(visuals_dir, 'gpt2_training.png'))
    # the held-out bits per byte of each model at its last evaluation, over the training seeds
    last = held_out.sort_values('step').groupby(['model', 'train_seed']).tail(1)
    summary = {'final_eval_bpb': {model: {'mean': float(rows['bpb'].mean()), 'std': float(rows['bpb'].std(ddof=1))
                                          if len(rows) > 1 else 0.0, 'per_seed': rows.sort_values('train_seed')['bpb'].tolist()}
                                  for model, rows in last.groupby('model')}}
    with open(os.path.join(out_dir, 'summary.json'), 'w') as f:
        json.dump(summary, f, indent=2)
    record_run(out_dir)
teardown(rt)
