"""Train a monolingual, a bilingual and a control GPT-2 with equal budgets.

The paper (Multitasking Models are Robust to Structural Failure, NeurIPS 2022) fine-tuned GPT-2 on English news (the
monolingual model) and on English + Greek with a new bilingual BPE tokenizer (the bilingual model), then compared how
they degrade when weights are deleted (test_gpt2.py). This script trains both, plus a control:

    monolingual  English only
    bilingual    English + a second language, mixed in every batch (lang2_fraction of its sequences)
    control      English only, for as many English bytes as the bilingual model saw (fewer steps):
                 it separates "bilingual" from "trained on less English"
    lang2_only   the second language only, max_steps (not trained by default): the reference that the bilingual
                 model's second language is held against, as the monolingual model is for its English

All share the architecture, the batch and the sequence length; monolingual and bilingual take the same optimizer
steps. Held-out loss, perplexity and bits per byte are measured in training, on English (lang2_only: its language).

Tokenizers (`tokenization`): `shared`, the default, gives every model one tokenizer, so that they are scored on the
same trainings; `own` is the paper's design, each model's own (robustness/training_text.py says how each is made).

Offline default: from scratch on the World English Bible vs the Ukrainian Bible (pip-installed text), five whole
books held out of training in both languages (robustness.corpora.DEFAULT_EVAL_BOOKS).

    python train_bilingual_gpt2.py                                 # offline default, 2 CPU cores
    OMP_NUM_THREADS=1 python train_bilingual_gpt2.py               # on a CPU shared with other jobs
    python train_bilingual_gpt2.py --max_steps=50 --eval_interval=25 --n_layer=1 --n_embd=32   # smoke test
    python train_bilingual_gpt2.py --init_from=gpt2 --tokenization=own --train_file=vblagoje/cc_news \\
        --second_file=wikimedia/wikipedia:20231101.el --block_size=1024 ...            # the paper's setting
    torchrun --standalone --nproc_per_node=8 train_bilingual_gpt2.py --init_from=gpt2 ...    # 8 GPUs, DDP

Training seeds: every model is trained once per seed in `train_seeds` (initialisation, data order and dropout
differ), so that robustness comparisons can count the variation between trainings. On a CPU the models (each model x
seed) run in parallel processes with one thread each, `jobs` at a time; on a GPU, one after another.

Writes, in out_dir: <model>/seed_<s>/ (final Hugging Face model + tokenizer dir of each seed),
<model>/seed_<s>/step_<n>/ (a checkpoint every checkpoint_interval steps, n its step; robustness/trainer.py),
tokenizer/ (shared) or <model>/tokenizer/ (own), eval_en.txt and eval_lang2.txt (the held-out text of each language,
one document per line; test_gpt2.py's default), train_en.txt / train_lang2.txt (the training text), train_log.csv
(every model and seed; logs/ holds each one's own log and process output), summary.json (what each model saw: steps,
schedule, tokens and bytes per language, bytes per token; its held-out bits per byte), config.json; and
visuals_dir/gpt2_training.png.

Exact resume: the data order is a function of the seed and the step, and each checkpoint holds the optimizer,
scheduler and RNG states, so a killed run restarted with the same settings (resume=True, the default) continues from
its last checkpoint with the same losses as an uninterrupted run. A finished model is skipped on a rerun.
"""

import contextlib
import functools
import json
import math
import os
import time
from dataclasses import dataclass

import pandas as pd
import torch
import transformers
from torch.nn.parallel import DistributedDataParallel as DDP
from tqdm import tqdm

from robustness import plots
from robustness.analysis.schema import write_summary
from robustness.config import check, check_choices, configure, save_config, settings_checked
from robustness.lock import claim
from robustness.perplexity import evaluate_text
from robustness.processes import run_jobs
from robustness.provenance import record_run
from robustness.results import ResultsLog, Table, read_rows
from robustness.runtime import autocast, seed_everything, setup, teardown
from robustness.settings import validate
from robustness.trainer import (check_control_steps, check_recipe, check_same_weights, new_model, optimizer_for,
                                pretrained_bases, restore, save_checkpoint, saved_states, stop_as_if_killed)
from robustness.training_text import (NEW_VOCABULARY, TokenizerRecipe, build_tokenizers, check_shared_vocabulary,
                                      read_corpus, token_rows, tokenizer_folders)

# -----------------------------------------------------------------------------
# data
train_file = ''            # English: a file, one document per line, or a HF dataset name[:config]; '' = the WEB Bible
second_file = ''           # second language, same forms; '' = Ukrainian Bible
eval_fraction = 0.05       # user corpora: the last fraction of each language's documents is held out for evaluation
max_docs = 0               # at most this many documents per language, picked evenly; 0 = all (a HF dataset: 100,000)
# models
train_models = ['monolingual', 'bilingual', 'control']  # which of the three models to train
init_from = 'scratch'      # scratch | a HF causal LM (gpt2) | a model dir, '{seed}' in it the training seed's base
tokenization = 'shared'    # shared: one tokenizer for every model | own: the paper's, each model's own (see above)
vocab_size = 2048          # byte-level BPE vocabulary (from scratch; tokenization=own's new bilingual BPE)
n_layer = 4                # transformer blocks (from scratch)
n_head = 4                 # attention heads (from scratch)
n_embd = 128               # embedding width (from scratch)
dropout = 0.0              # dropout (from scratch)
block_size = 128           # tokens per training sequence (and held-out evaluation window)
# training
lang2_fraction = 0.5       # share of each bilingual batch's sequences in the second language
batch_size = 16            # sequences per micro-batch, per process
grad_accum = 1             # micro-batches per optimizer step
max_steps = 300            # optimizer steps of monolingual and bilingual (the control: the bilingual one's English)
learning_rate = 2e-3       # peak learning rate (AdamW)
min_lr_ratio = 0.1         # the cosine decays to learning_rate * min_lr_ratio at the last step
warmup_steps = 30          # linear warm-up steps
weight_decay = 0.1         # AdamW weight decay of the matrices (not of biases and norms)
beta1 = 0.9                # AdamW beta1
beta2 = 0.95               # AdamW beta2
grad_clip = 1.0            # clip the global gradient norm to this after backward (0 = no clipping)
eval_interval = 150        # steps between held-out evaluations (train_log.csv), and at the last step
checkpoint_interval = 150  # steps between checkpoints <model>/seed_<s>/step_<n>/ (test_gpt2.py sweeps them)
eval_stride = 0            # held-out sliding-window stride in tokens (0 = block_size: windows overlap by one token)
eval_batch_size = 32       # held-out windows per forward pass
log_interval = 10          # steps between rows of train_log.csv
train_seeds = [1337, 1338, 1339]  # a model of each kind per seed (initialisation, data order): <model>/seed_<s>/
jobs = 0                   # CPU: models x seeds trained at once, a process of one thread each (0 = the cores)
device = 'auto'            # auto | cpu | cuda
compile = False            # torch.compile the model (CUDA; slow to start, faster to run)
resume = True              # continue from the latest checkpoint in out_dir; finished models are skipped
stop_after = 0             # stop as if killed once a model reaches this step (tests of resume; 0 = never)
out_dir = 'results/train_bilingual_gpt2'  # models, logs and held-out text
visuals_dir = 'visuals'    # where gpt2_training.png goes
# -----------------------------------------------------------------------------
config = configure(globals(), renamed={'tokenizer': 'tokenization'})

MODELS = ('monolingual', 'bilingual', 'control', 'lang2_only')
scratch = init_from == 'scratch'
validate(config)  # the settings the scripts share (batches, learning rate, jobs, training seeds, models named)
check_choices('train_models', train_models, MODELS)
lang2_rows = check_recipe(config)  # second-language sequences in each bilingual micro-batch
if 'control' in train_models:  # with one tokenizer; another's bytes per token change it (control_steps)
    check_control_steps(round(max_steps * (batch_size - lang2_rows) / batch_size), max_steps, lang2_fraction)
log_path = os.path.join(out_dir, 'train_log.csv')  # every model's and seed's rows (each also logs in logs/)
check(resume or not os.path.exists(log_path),
      f"resume: {out_dir} already holds a training run; pass --resume=True to continue it, or choose another out_dir")
settings_checked()
# the model's shape from scratch and its optimizer, as robustness.trainer takes them
SHAPE = dict(n_positions=block_size, n_embd=n_embd, n_layer=n_layer, n_head=n_head, dropout=dropout)
SCHEDULE = dict(learning_rate=learning_rate, min_lr_ratio=min_lr_ratio, warmup_steps=warmup_steps,
                weight_decay=weight_decay, betas=(beta1, beta2))


# The data stream ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Stream:
    """One language's share of every micro-batch: its token rows, the UTF-8 bytes each row stands for, how many rows
    it gives each micro-batch, and the seed of its data order."""
    rows: torch.Tensor
    row_bytes: torch.Tensor
    per_batch: int
    seed: int


@functools.lru_cache(maxsize=16)
def epoch_order(n_rows, stream_seed, epoch, rank, world_size):
    """Process `rank`'s shard of epoch `epoch`'s permutation of n_rows rows (seeded by the stream and the
    epoch), as DistributedSampler with set_epoch deals them out; the whole permutation on one process."""
    order = torch.randperm(n_rows, generator=torch.Generator().manual_seed(stream_seed + epoch))
    return order[rank::world_size][:n_rows // world_size]


def take(n_rows, start, count, stream_seed, rank, world_size):
    """Row indices [start, start + count) of process `rank`'s endless stream: epoch after epoch of a fresh
    permutation. A function of the position only: that makes resume exact."""
    per_rank = n_rows // world_size
    return torch.stack([epoch_order(n_rows, stream_seed, position // per_rank, rank, world_size)[position % per_rank]
                        for position in range(start, start + count)])


def micro_batch(streams, batch, state, rt):
    """This process's sequences of micro-batch `batch` (English rows, then second-language rows), counting the bytes
    of text that every process's rows stand for (the data order is known to all)."""
    parts = []
    for language, stream in streams.items():
        if not stream.per_batch:
            continue
        start = batch * stream.per_batch
        parts.append(stream.rows[take(len(stream.rows), start, stream.per_batch, stream.seed, rt.rank, rt.world_size)])
        for rank in range(rt.world_size):
            picked = take(len(stream.rows), start, stream.per_batch, stream.seed, rank, rt.world_size)
            state[f'{language}_bytes'] += stream.row_bytes[picked].sum().item()
    return torch.cat(parts).to(rt.device, non_blocking=True)


def control_steps(rows_bytes, english_rows, rt):
    """The control's optimizer steps: as many English bytes as the bilingual model's max_steps give it (with one
    tokenizer, as many tokens). `rows_bytes`: {model: the mean UTF-8 bytes of an English row under its tokenizer};
    `english_rows`: the bilingual model's English rows per micro-batch."""
    rows_per_step = rt.world_size * grad_accum
    bilingual = max_steps * rows_per_step * english_rows * rows_bytes['bilingual']
    steps = round(bilingual / (rows_per_step * batch_size * rows_bytes['control']))
    check_control_steps(steps, max_steps, lang2_fraction)
    return steps


# Training ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Training:
    """One model trained with one training seed: `steps` optimizer steps, `lang2_rows` of each micro-batch's rows in
    the second language, its data order drawn from `data_seed`; `new_embeddings`: a pretrained model given a new
    tokenizer (tokenization=own's bilingual model), whose embedding matrix is resized to it."""
    name: str
    seed: int
    steps: int
    lang2_rows: int
    data_seed: int
    new_embeddings: bool

    @property
    def label(self):
        return f'{self.name} seed {self.seed}'


LOG = Table('train_log.csv', ('model', 'train_seed', 'split', 'step', 'tokens', 'en_tokens', 'lang2_tokens',
                              'en_bytes', 'lang2_bytes', 'loss', 'ppl', 'bpb', 'lr', 'grad_norm', 'clipped_grad_norm',
                              'tokens_per_s', 'replaced_bytes'), key=('model', 'train_seed', 'split', 'step'))


def training_log_path(training):
    """The training log of one model and seed: models trained in parallel processes never share a file."""
    return os.path.join(out_dir, 'logs', f'train_log_{training.name}_seed{training.seed}.csv')


def model_dir(name, seed):
    return os.path.join(out_dir, name, f'seed_{seed}')


def counts(state):
    return {key: state[key] for key in ('tokens', 'en_tokens', 'lang2_tokens', 'en_bytes', 'lang2_bytes')}


def evaluate(training, log, model, tokenizer, state, eval_text, replaced_bytes, rt):
    """Held-out English loss, perplexity and bits-per-byte, logged as an 'eval' row (master only)."""
    if not rt.is_master or log.has(model=training.name, train_seed=training.seed, split='eval', step=state['step']):
        return
    result = evaluate_text(model, tokenizer, eval_text, max_length=block_size, stride=eval_stride or block_size,
                           batch_size=eval_batch_size)
    log.write(dict(model=training.name, train_seed=training.seed, split='eval', step=state['step'], **counts(state),
                   loss=result.nll / result.tokens, ppl=result.ppl, bpb=result.bpb, replaced_bytes=replaced_bytes))
    tqdm.write(f"{training.label} step {state['step']}: held-out loss {result.nll / result.tokens:.4f}, "
               f"ppl {result.ppl:.2f}, {result.bpb:.4f} bits per byte")


def optimizer_step(model, optimizer, scheduler, streams, state, loss_sum, logging, rt):
    """One optimizer step over grad_accum micro-batches; returns the gradient norm before clipping and, on a step
    that is `logging`, after it (None otherwise: an extra pass over the gradients)."""
    for micro in range(grad_accum):
        x = micro_batch(streams, state['step'] * grad_accum + micro, state, rt)
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
    for language, stream in streams.items():
        state[f'{language}_tokens'] += rt.world_size * grad_accum * stream.per_batch * block_size
    state['tokens'] += rt.world_size * grad_accum * batch_size * block_size
    return grad_norm, clipped_norm


def train(training, streams, tokenizer, corpus, init_path, rt):
    """Train one model with one training seed (`training`) on its `streams` ({'en', 'lang2'}: Stream), from scratch or
    `init_path`, resuming from its latest checkpoint, evaluating on the held-out text of `corpus` in its language,
    logging and saving as it goes."""
    log = ResultsLog(training_log_path(training), LOG) if rt.is_master else None
    held_out = corpus.eval_lang2 if training.name == 'lang2_only' else corpus.eval_en
    eval_text = '\n'.join(held_out) + '\n'  # exactly what eval_en.txt (eval_lang2.txt) holds
    saved = saved_states(model_dir(training.name, training.seed)) if resume else []
    if saved and saved[-1].step >= training.steps:
        if rt.is_master:
            print(f"{training.label}: already trained ({saved[-1].path}, step {saved[-1].step}); skipping")
        return
    seed_everything(training.seed)  # the same initial weights on every process (DDP also broadcasts rank 0's)
    raw_model = new_model(tokenizer, saved, init_path, training.new_embeddings, SHAPE).to(rt.device)
    if rt.is_master and not saved:
        print(f"{training.label}: {sum(p.numel() for p in raw_model.parameters()):,} parameters, vocabulary "
              f"{len(tokenizer):,}, {training.steps} steps of {rt.world_size * grad_accum} x {batch_size} sequences of "
              f"{block_size} tokens ({training.lang2_rows} of each {batch_size} in the second language)")
    optimizer, scheduler = optimizer_for(raw_model, training.steps, rt.device.type == 'cuda', **SCHEDULE)
    state = dict(step=0, tokens=0, en_tokens=0, lang2_tokens=0, en_bytes=0, lang2_bytes=0)
    if saved:
        restore(saved[-1].path, optimizer, scheduler, state, rt)
        if rt.is_master:
            print(f"{training.label}: resuming from {saved[-1].path} at step {state['step']}")
    else:
        seed_everything(training.seed + rt.rank)  # dropout differs across processes
        evaluate(training, log, raw_model, tokenizer, state, eval_text, corpus.replaced_bytes, rt)
    model = torch.compile(raw_model) if compile else raw_model
    if rt.distributed:
        model = DDP(model, device_ids=[rt.local_rank] if rt.device.type == 'cuda' else None)
    model.train()
    progress = tqdm(total=training.steps, initial=state['step'], desc=training.label, disable=not rt.is_master,
                    dynamic_ncols=True)
    window_start, window_steps = time.time(), 0
    loss_sum = torch.zeros((), device=rt.device)  # summed over the window of steps since the last log row
    while state['step'] < training.steps:
        lr = scheduler.get_last_lr()[0]
        logging = (state['step'] + 1) % log_interval == 0 or state['step'] + 1 == training.steps
        grad_norm, clipped_norm = optimizer_step(model, optimizer, scheduler, streams, state, loss_sum, logging, rt)
        window_steps += 1
        progress.update(1)
        if logging:
            if rt.distributed:
                torch.distributed.all_reduce(loss_sum)
            loss_value = loss_sum.item() / rt.world_size / window_steps
            tokens = window_steps * rt.world_size * grad_accum * batch_size * block_size
            tokens_per_s = tokens / (time.time() - window_start)
            progress.set_postfix(loss=f"{loss_value:.3f}", tok_s=f"{tokens_per_s:,.0f}")
            key = dict(model=training.name, train_seed=training.seed, split='train', step=state['step'])
            if rt.is_master and not log.has(**key):
                log.write(dict(**key, **counts(state), loss=loss_value, lr=lr, grad_norm=grad_norm.item(),
                               clipped_grad_norm=clipped_norm.item(), tokens_per_s=tokens_per_s,
                               replaced_bytes=corpus.replaced_bytes))
            loss_sum.zero_()
            window_start, window_steps = time.time(), 0
        if stop_after and state['step'] == stop_after:
            stop_as_if_killed(training.label, state['step'], progress, rt)
        last = state['step'] == training.steps
        evaluating, saving = state['step'] % eval_interval == 0 or last, state['step'] % checkpoint_interval == 0
        if evaluating:
            evaluate(training, log, raw_model, tokenizer, state, eval_text, corpus.replaced_bytes, rt)
        if saving:
            save_checkpoint(os.path.join(model_dir(training.name, training.seed), f"step_{state['step']}"),
                            raw_model, tokenizer, optimizer, scheduler, state, rt)
        if last:
            save_checkpoint(model_dir(training.name, training.seed), raw_model, tokenizer, optimizer, scheduler, state,
                            rt)
        if evaluating or saving or last:
            window_start = time.time()  # evaluating and saving is not training time
    progress.close()
    if rt.distributed:
        check_same_weights(training.name, raw_model, rt)
    if rt.is_master:
        print(f"{training.label}: trained on {state['tokens']:,} tokens ({state['en_tokens']:,} English = "
              f"{state['en_bytes']:,} bytes, {state['lang2_tokens']:,} second language = {state['lang2_bytes']:,} "
              f"bytes); saved {model_dir(training.name, training.seed)}")


# Summary and figure --------------------------------------------------------------------------------

def what_each_saw(trainings, tokenizers, mean_row_bytes, rt):
    """{model: steps, schedule, tokenizer, bytes per token of each language, and the tokens and bytes of each
    language its final models saw (mean over the training seeds that finished, from their trainer_state.json)}."""
    seen = {}
    for name in dict.fromkeys(training.name for training in trainings):
        paths = [os.path.join(model_dir(training.name, training.seed), 'trainer_state.json') for training in trainings
                 if training.name == name]
        states = [json.load(open(path)) for path in paths if os.path.exists(path)]
        if not states:  # stopped before the end (stop_after): nothing finished to say what it saw
            continue
        training = next(training for training in trainings if training.name == name)
        seen[name] = {'steps': training.steps, 'warmup_steps': warmup_steps,
                      'schedule': f'linear warm-up over {warmup_steps} steps, then a cosine from {learning_rate:g} to '
                                  f'{learning_rate * min_lr_ratio:g} at step {training.steps}',
                      'sequences_per_step': rt.world_size * grad_accum * batch_size,
                      'second_language_sequences_per_step': rt.world_size * grad_accum * training.lang2_rows,
                      'tokenization': tokenization, 'vocabulary': len(tokenizers[name]), 'finished_seeds': len(states),
                      'bytes_per_token': {language: row_bytes / block_size for language, row_bytes in
                                          mean_row_bytes[name].items()},
                      **{key: sum(state[key] for state in states) / len(states) for key in counts(states[0])}}
    return seen


# Work: the runtime, the corpora, the tokenizers, every (model, seed), the summary ------------------------
rt = setup(device)
seed_everything(train_seeds[0])
# the base of each training seed, checked before any training (None from scratch)
init_paths, pretrained_tokenizer = pretrained_bases(None if scratch else init_from, train_seeds, block_size)

transformers.utils.logging.disable_progress_bar()  # no "Writing model shards" bar per checkpoint
if rt.device.type == 'cuda':
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True

corpus = read_corpus(train_file, second_file, eval_fraction, max_docs)
if scratch and tokenization == 'shared':
    check_shared_vocabulary(corpus.train_en + corpus.train_lang2, vocab_size)
if rt.is_master:
    print(f"English: {len(corpus.train_en):,} training documents ({sum(map(len, corpus.train_en)):,} characters), "
          f"{len(corpus.eval_en):,} held out; second language: {len(corpus.train_lang2):,} training documents "
          f"({sum(map(len, corpus.train_lang2)):,} characters), {len(corpus.eval_lang2):,} held out; undecodable "
          f"bytes replaced: {corpus.replaced_bytes}")
    claim(out_dir)  # one run per out_dir; forked training processes keep it
    save_config(config, os.path.join(out_dir, 'config.json'))
    for filename, documents in (('eval_en.txt', corpus.eval_en), ('eval_lang2.txt', corpus.eval_lang2),
                                ('train_en.txt', corpus.train_en), ('train_lang2.txt', corpus.train_lang2)):
        with open(os.path.join(out_dir, filename), 'w', encoding='utf-8') as f:
            f.write('\n'.join(documents) + '\n')
os.makedirs(os.path.join(out_dir, 'logs'), exist_ok=True)

# Each tokenizer and its token rows are built once, before the (forked) training processes share them. The control's
# steps depend on the bilingual model's tokenizer: it is built wherever the control trains.
needed = [name for name in MODELS if name in train_models or name == 'bilingual' and 'control' in train_models]
folders, rows_of = tokenizer_folders(out_dir, tokenization, MODELS), {}
recipe = TokenizerRecipe(tokenization, vocab_size, pretrained_tokenizer)
tokenizers = build_tokenizers(corpus, needed, folders, recipe, rt)  # rows_of: (folder, language) -> (rows, row_bytes)
for name in needed:
    for language, documents in (('en', corpus.train_en), ('lang2', corpus.train_lang2)):
        reads_lang2 = name == 'lang2_only' or name == 'bilingual' and lang2_rows
        if (folders[name], language) not in rows_of and (language == 'en' or reads_lang2):
            rows_of[folders[name], language] = token_rows(tokenizers[name], documents, block_size, batch_size, rt)
mean_row_bytes = {name: {language: float(rows[1].float().mean()) for (folder, language), rows in rows_of.items()
                         if folder == folders[name]} for name in needed}
steps_of = {'monolingual': max_steps, 'bilingual': max_steps, 'lang2_only': max_steps}
if 'control' in train_models:
    steps_of['control'] = control_steps({name: mean_row_bytes[name]['en'] for name in ('bilingual', 'control')},
                                        batch_size - lang2_rows, rt)

trainings, jobs_of_trainings = [], []
for name in (name for name in MODELS if name in train_models):  # the control (shorter) last
    for seed in train_seeds:
        # the data order's seed; fine-tuning draws from streams of its own, so that a model fine-tuned from a base
        # trained here with the same seed never replays the base's order
        training = Training(name=name, seed=seed, steps=steps_of[name],
                            lang2_rows={'bilingual': lang2_rows, 'lang2_only': batch_size}.get(name, 0),
                            data_seed=seed + 1000 * MODELS.index(name) + (0 if scratch else 100_000),
                            new_embeddings=not scratch and tokenization == 'own' and name in NEW_VOCABULARY)
        lang2 = rows_of.get((folders[name], 'lang2'), (None, None)) if training.lang2_rows else (None, None)
        streams = {'en': Stream(*rows_of[folders[name], 'en'], per_batch=batch_size - training.lang2_rows,
                                seed=training.data_seed),  # (rows, row_bytes) of each language
                   'lang2': Stream(*lang2, per_batch=training.lang2_rows, seed=training.data_seed + 500)}
        trainings.append(training)
        jobs_of_trainings.append((f'{name}_seed{seed}',
                                  (training, streams, tokenizers[name], corpus, init_paths[seed], rt)))
slots = min(len(trainings), jobs or os.cpu_count() or 1)
# on a CPU each (model, seed) in a single-thread process of its own: a second thread only waits on a small model
run_jobs(train, jobs_of_trainings, slots, os.path.join(out_dir, 'logs'), 'train_seeds',
          parallel=rt.device.type == 'cpu' and not rt.distributed and slots > 1)

if rt.is_master:
    frame = pd.concat([read_rows(training_log_path(training), LOG) for training in trainings
                       if os.path.exists(training_log_path(training))])
    frame = frame.sort_values(['model', 'train_seed', 'split', 'step'], kind='stable')
    frame.to_csv(log_path, index=False)
    plots.draw_training(frame, os.path.join(visuals_dir, 'gpt2_training.png'))
    # the held-out bits per byte of each model at its last evaluation, over the training seeds
    last = frame[frame['split'] == 'eval'].sort_values('step').groupby(['model', 'train_seed']).tail(1)
    summary = {'final_eval_bpb': {model: {'mean': float(rows['bpb'].mean()),
                                          'std': float(rows['bpb'].std(ddof=1)) if len(rows) > 1 else 0.0,
                                          'per_seed': rows.sort_values('train_seed')['bpb'].tolist()}
                                  for model, rows in last.groupby('model')},
               'tokenization': tokenization, 'models': what_each_saw(trainings, tokenizers, mean_row_bytes, rt)}
    write_summary(out_dir, summary)
    record_run(out_dir)
teardown(rt)
