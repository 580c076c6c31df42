"""What train_bilingual_gpt2.py's loop trains and keeps: the model (from scratch, a pretrained one or its latest
checkpoint), its optimizer and schedule, and the checkpoints that make resume exact.

    lang2_rows = check_recipe(config)                                  # the recipe's settings, before any work
    init_paths, tokenizer = pretrained_bases(init_from, seeds, block_size)   # each training seed's base
    saved = saved_states(folder)                                       # [Saved(step, path)], latest last
    model = new_model(tokenizer, saved, init_path, new_embeddings, shape)
    optimizer, scheduler = optimizer_for(model, steps, fused, **schedule)
    save_checkpoint(path, model, tokenizer, optimizer, scheduler, state, rt)
    restore(saved[-1].path, optimizer, scheduler, state, rt)

A checkpoint is a Hugging Face model and tokenizer folder, plus optimizer.pt (the optimizer, the schedule and every
process's RNG state) and trainer_state.json (the step and the tokens and bytes seen; written last, it marks the
folder complete).
"""

import json
import os
from typing import NamedTuple

import torch
from transformers import (AutoConfig, AutoModelForCausalLM, AutoTokenizer, GPT2Config, GPT2LMHeadModel,
                          get_cosine_with_min_lr_schedule_with_warmup)

from robustness.checkpoints import numbered_dirs
from robustness.config import check, check_choices, check_range
from robustness.hub import from_pretrained
from robustness.runtime import teardown


class Saved(NamedTuple):
    """A saved state of a model: its step and folder."""
    step: int
    path: str


def saved_states(folder):
    """Every Saved state of the model in `folder`: its final folder and its step_<n>/ checkpoints, latest last."""
    found = []
    for path in [folder] + [path for _, path in numbered_dirs(folder, 'step_')]:
        if os.path.exists(os.path.join(path, 'trainer_state.json')):
            with open(os.path.join(path, 'trainer_state.json')) as f:
                found.append(Saved(json.load(f)['step'], path))
    return sorted(found)


def save_checkpoint(path, model, tokenizer, optimizer, scheduler, state, rt):
    """Save a checkpoint in `path` (the master writes; every process's RNG state is gathered into it)."""
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


def restore(path, optimizer, scheduler, state, rt):
    """Continue exactly where a checkpoint left off: step and token counts (into `state`), optimizer, schedule, this
    process's RNG."""
    with open(os.path.join(path, 'trainer_state.json')) as f:
        state.update(json.load(f))
    trainer_state = torch.load(os.path.join(path, 'optimizer.pt'), weights_only=False)
    optimizer.load_state_dict(trainer_state['optimizer'])
    scheduler.load_state_dict(trainer_state['scheduler'])
    rng = trainer_state['rng'][rt.rank]
    torch.set_rng_state(rng['cpu'])
    if rng['cuda'] is not None:
        torch.cuda.set_rng_state(rng['cuda'])


def pretrained_bases(init_from, seeds, block_size):
    """({training seed: its base}, the first base's tokenizer) of a pretrained init_from ('{seed}' in it stands for
    the seed; bases of one recipe share their tokenizer), with one-line errors for a missing base, an unreachable
    hub model or a block longer than a base's positions; ({seed: None}, None) from scratch (init_from None)."""
    if init_from is None:
        return dict.fromkeys(seeds), None
    paths = {seed: init_from.replace('{seed}', str(seed)) for seed in seeds}
    for path in dict.fromkeys(paths.values()):
        config = from_pretrained(AutoConfig, path, 'init_from')
        positions = getattr(config, 'n_positions', None) or getattr(config, 'max_position_embeddings', None)
        check(positions is None or block_size <= positions,
              f"block_size: {block_size} is longer than the {positions} positions that {path} allows")
    return paths, from_pretrained(AutoTokenizer, paths[seeds[0]], 'init_from')


def new_model(tokenizer, saved, init_path, new_embeddings, shape):
    """The model to train: from its latest checkpoint (`saved`), from `init_path` (its embeddings resized to
    `tokenizer` where `new_embeddings`), or, with init_path None, from scratch in `shape` (n_positions, n_embd,
    n_layer, n_head, dropout)."""
    if saved:
        return AutoModelForCausalLM.from_pretrained(saved[-1].path)
    if init_path is None:
        # GPT-2's tanh GELU as one fused op (gelu_pytorch_tanh, the same function as gelu_new): 1.18x the steps/s on
        # one CPU thread (bench/bench_train_speed.py)
        dropout = shape['dropout']
        return GPT2LMHeadModel(GPT2Config(
            vocab_size=len(tokenizer), n_positions=shape['n_positions'], n_embd=shape['n_embd'],
            n_layer=shape['n_layer'], n_head=shape['n_head'], activation_function='gelu_pytorch_tanh',
            resid_pdrop=dropout, embd_pdrop=dropout, attn_pdrop=dropout, bos_token_id=tokenizer.eos_token_id,
            eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.eos_token_id))
    model = from_pretrained(AutoModelForCausalLM, init_path, 'init_from')
    if new_embeddings:  # the bilingual model's new BPE: resize the embeddings to it, as the paper did
        model.resize_token_embeddings(len(tokenizer))
        model.config.bos_token_id = model.config.eos_token_id = tokenizer.eos_token_id
    model.config.pad_token_id = tokenizer.pad_token_id
    return model


def optimizer_for(model, steps, fused, learning_rate, min_lr_ratio, warmup_steps, weight_decay, betas):
    """AdamW (decay on the matrices only) and its schedule: a linear warm-up from 0, then a cosine down to
    min_lr_ratio * learning_rate at `steps`, stepped per optimizer step."""
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW([{'params': decay, 'weight_decay': weight_decay},
                                   {'params': no_decay, 'weight_decay': 0.0}],
                                  lr=learning_rate, betas=betas, fused=fused)
    return optimizer, get_cosine_with_min_lr_schedule_with_warmup(optimizer, warmup_steps, steps,
                                                                   min_lr_rate=min_lr_ratio)


def check_same_weights(label, model, rt):
    """Under DDP the processes must hold the same weights: compare with rank 0's (a one-line error naming `label`)."""
    weights = torch.cat([p.detach().flatten().float() for p in model.parameters()])
    reference = weights.clone()
    torch.distributed.broadcast(reference, src=0)
    difference = (weights - reference).abs().max()
    torch.distributed.all_reduce(difference, op=torch.distributed.ReduceOp.MAX)
    check(difference.item() == 0, f"{label}: the {rt.world_size} processes ended with different weights "
                                  f"(max difference {difference.item():.3g})")
    if rt.is_master:
        print(f"{label}: the {rt.world_size} processes hold the same final weights (max difference 0)")


TOKENIZATIONS = ('shared', 'own')  # the setting `tokenization`: one tokenizer for every model, or each model's own


def check_recipe(config):
    """The training recipe's settings, each a one-line error naming it: the tokenization, the second language's
    share of a batch (a whole number of sequences, neither none nor all for a bilingual model), the evaluation
    windows and the shape from scratch. Returns the second-language sequences of each bilingual micro-batch."""
    scratch, models, fraction = config['init_from'] == 'scratch', set(config['train_models']), config['lang2_fraction']
    check_choices('tokenization', config['tokenization'], TOKENIZATIONS)
    check(scratch or config['tokenization'] == 'shared' or 'lang2_only' in models
          or (fraction > 0 and {'bilingual', 'control'} & models),
          f"tokenization: own gives a pretrained model's bilingual copy a new BPE of its English + second-language "
          f"text; with init_from={config['init_from']}, lang2_fraction {fraction} and train_models "
          f"{','.join(config['train_models'])} there is no bilingual model or corpus to give one: use "
          f"tokenization=shared")
    check(not {'bilingual', 'control'} & models or 0 < fraction < 1,
          f"lang2_fraction: {fraction} leaves the bilingual model "
          f"{'no second language' if fraction <= 0 else 'no English'} (the control reads its English); use a "
          f"fraction between 0 and 1, or train_models=monolingual")
    block_size, batch_size = config['block_size'], config['batch_size']
    check(config['eval_stride'] <= block_size,
          f"eval_stride: {config['eval_stride']} is longer than block_size {block_size}")
    check(block_size >= 2, f"block_size: {block_size} leaves nothing to predict; use at least 2")
    lang2_rows = round(batch_size * fraction)
    check(abs(batch_size * fraction - lang2_rows) < 1e-9,
          f"lang2_fraction: batch_size * lang2_fraction = {batch_size * fraction:g} must be a whole number of "
          f"sequences")
    if scratch:
        for name in ('n_layer', 'n_head', 'n_embd'):  # (a pretrained model keeps its own)
            check_range(name, config[name], 1)
        check(config['vocab_size'] >= 257,
              f"vocab_size: {config['vocab_size']} is smaller than a byte-level BPE's 256 bytes + end-of-text")
        check(config['n_embd'] % config['n_head'] == 0,
              f"n_embd: {config['n_embd']} is not divisible by n_head {config['n_head']}")
    return lang2_rows


def check_control_steps(steps, max_steps, lang2_fraction):
    check(steps >= 1, f"max_steps: {max_steps} steps with lang2_fraction {lang2_fraction} leave the control model 0 "
                      f"steps (it trains on the bilingual model's English bytes); raise max_steps or lower "
                      f"lang2_fraction")


def stop_as_if_killed(label, step, progress, rt):
    """stop_after: end the process here, saving nothing, as a kill would (the tests of resume use it)."""
    progress.close()
    if rt.is_master:
        print(f"{label}: stopped at step {step} (stop_after), as if killed: nothing saved since the last checkpoint")
    teardown(rt)
    raise SystemExit(0)
