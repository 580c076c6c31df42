"""The damage sweep that test_gpt2.py, run_glue_test.py and non_linear.py share.

    grid = trial_grid(kinds, scopes, ['all'], {'levels': levels, 'noise_levels': noise_levels}, repeats)
    log, measured = open_log(out_dir, TABLE, runtime)                        # TABLE: a results.Table
    todo = pending(grid, measured, lambda t: dict(model='mono', train_seed=1337, **t._asdict()))  # not yet in the CSV
    for trial in mine(todo, runtime):                                        # round-robin over torchrun ranks
        ...
    run_trials(model, todo, score, record, seed)                             # damage, score(trial), restore, record

The grid is every (kind, scope, layers, level, repeat); a deterministic kind (robustness.kinds) and level 0 (the intact
model) are measured once, as repeat 0. `run_trials` scores the intact model once and gives that score to the level-0
row of every kind and scope. What is measured already is read from the CSV and from the part files that ranks of a
stopped torchrun left behind, so a rerun measures only what is missing.
"""

import glob
import os
import time
from typing import NamedTuple

from tqdm import tqdm

import torch

from robustness.config import check, fail
from robustness.kinds import KINDS
from robustness.perturb import check_kind, perturbed
from robustness.scopes import HEAD_SCOPES
from robustness.results import ResultsLog


class Trial(NamedTuple):
    kind: str
    scope: str
    layers: str    # a layer selection's name ('all', 'first', ...) or the block indices as text
    level: float
    repeat: int    # the draw index: damage seed = seed + repeat


def grid_of(kind, grids):
    """The sorted levels of `kind` from the script's grids ({'levels': [...], 'noise_levels': [...]})."""
    return sorted(set(grids[KINDS[kind].grid]))


FLOOR_KIND = 'random_deletion'  # at level 1.0: every weight in scope zeroed, the floor of a model's performance


def repeats_at(kind, level, repeats):
    """How many draws a level gets: one for the intact model, for a deterministic kind, and for random deletion of
    every weight (level 1.0), which every draw does the same way."""
    return 1 if level == 0 or (kind == FLOOR_KIND and level == 1.0) else KINDS[kind].draws(repeats)


def scopes_of(kind, scopes):
    """The scopes a kind is measured on. A kind that acts on attention heads deletes the same heads in attn, blocks
    and all, and mlp holds none: it runs on the first of attn, blocks and all that `scopes` names (ValueError if
    none)."""
    if not KINDS[kind].on_heads:
        return list(scopes)
    first = next((s for s in scopes if s in HEAD_SCOPES), None)
    if first is None:
        fail(f"{kind}: no attention heads in scope {', '.join(scopes)}; use {', '.join(HEAD_SCOPES)}")
    return [first]


def repeated(kind, scope, kinds, single_tensor_scopes):
    """Whether `kind` on `scope` repeats another kind of `kinds` mask for mask: the scope holds one tensor, where the
    kind is the same as another (global magnitude pruning is per-tensor magnitude pruning there)."""
    same = KINDS[kind].same_on_one_tensor
    return scope in single_tensor_scopes and same is not None and same in kinds


def trial_grid(kinds, scopes, layer_sets, grids, repeats, floors=(), single_tensor_scopes=()):
    """[Trial] in a fixed order: kind, scope, layers, level, repeat (`scopes_of` each kind), without a kind on a scope
    of `single_tensor_scopes` where another of `kinds` gives the same masks (one row, not two). Then every (scope of
    `floors`, layers) gets its floor, FLOOR_KIND at level 1.0 (every weight in scope zeroed), once, where the grid
    lacks it."""
    trials = [Trial(kind=kind, scope=scope, layers=layers, level=level, repeat=repeat)
              for kind in kinds for scope in scopes_of(kind, scopes)
              if not repeated(kind, scope, kinds, single_tensor_scopes) for layers in layer_sets
              for level in grid_of(kind, grids) for repeat in range(repeats_at(kind, level, repeats))]
    trials += [floor for scope in floors for layers in layer_sets
               if (floor := Trial(kind=FLOOR_KIND, scope=scope, layers=layers, level=1.0, repeat=0)) not in trials]
    return trials


def check_kinds(model_config, auto_class, kinds, scopes, layer_lists, grids, group, name):
    """Every kind on every scope and block selection (`layer_lists`: lists of block indices, None for all), at its
    grid's top, checked on the model's skeleton (meta device: no weights) before anything is written; a one-line
    error naming the model otherwise (head deletion of a scope without heads, an N:M group that does not divide)."""
    with torch.device('meta'):
        skeleton = auto_class.from_config(model_config)
    placeholder = torch.zeros(1, 1, dtype=torch.long)  # Wanda's calibration: its shape is all a check reads
    for kind in kinds:
        try:
            for scope in scopes_of(kind, scopes):
                for layers in layer_lists:
                    check_kind(skeleton, kind, max(grid_of(kind, grids)), scope, layers,
                               **KINDS[kind].options_of(group, placeholder))
        except ValueError as error:
            fail(f"kinds: {name}: {error}")


def token_windows(ids, windows, window, setting):
    """Wanda's calibration: the first `windows` windows of `window` tokens of the token ids `ids`, as a LongTensor
    (windows, window); a one-line error naming `setting` when there is not one window."""
    count = min(windows, len(ids) // window)
    check(count >= 1, f"{setting}: the calibration text holds fewer than {window} tokens")
    return torch.as_tensor(ids[:count * window], dtype=torch.long).view(count, window)


def open_log(out_dir, table, runtime=None, part=None):
    """(the log of `table` (a results.Table) this process appends to, [every log that holds measured rows]). Under
    torchrun every rank appends to a part file of its own, and so does a process of run_parallel given its `part`
    name (merge_parts gathers them); a part file a stopped run left behind counts as measured."""
    path = os.path.join(out_dir, table.filename)
    stem, extension = os.path.splitext(path)
    if runtime is not None and runtime.distributed:
        part = runtime.rank
    log = ResultsLog(f'{stem}.part{part}{extension}' if part is not None else path, table)
    others = [p for p in [path] + sorted(glob.glob(f'{stem}.part*{extension}')) if p != log.path
              and os.path.exists(p) and os.path.getsize(p) > 0]
    return log, [log] + [ResultsLog(p, table) for p in others]


def merge_parts(out_dir, table):
    """Absorb the part files of every rank into the one CSV (rank 0, after a barrier)."""
    path = os.path.join(out_dir, table.filename)
    stem, extension = os.path.splitext(path)
    merged = ResultsLog(path, table)
    for part in sorted(glob.glob(f'{stem}.part*{extension}')):
        merged.absorb(part)
    return merged


def pending(trials, logs, key_of):
    """The trials whose row (`key_of(trial)`, a dict of key columns) no log holds yet."""
    return [trial for trial in trials if not any(log.has(**key_of(trial)) for log in logs)]


def mine(work, runtime):
    """This rank's share of `work`: round-robin, so that every rank gets a share of every model."""
    return work[runtime.rank::runtime.world_size] if runtime is not None else work


def damage_of(model, trial, seed=0, layers=None, options=None):
    """The damage of one trial to `model`, in place, as a context that restores it (robustness.perturb.perturbed): its
    draw seeded by seed + repeat, within the blocks `layers` (None: all), with its kind's perturb options
    (`options`: {kind: Kind.options_of}, none for a kind not there)."""
    return perturbed(model, trial.kind, trial.level, scope=trial.scope, seed=seed + trial.repeat, layers=layers,
                     **(options or {}).get(trial.kind, {}))


def run_trials(model, trials, score, record, seed=0, layers_of=lambda trial: None, options=None,
               desc='trials', disable=False, intact=None):
    """Damage `model` in place for each trial (damage_of), `score(trial)` it, restore it, and `record(trial, result,
    sparsity, seconds)`. The intact model is scored once, at the first level-0 trial, and that score serves every
    level-0 row (or `intact`, a score of the intact model the caller has already). `layers_of(trial)`: the block
    indices the trial damages (None: all)."""
    for trial in tqdm(trials, desc=desc, disable=disable, leave=False):
        started = time.perf_counter()
        with damage_of(model, trial, seed, layers_of(trial), options) as damage:
            if trial.level == 0:
                intact = intact if intact is not None else score(trial)
                result = intact
            else:
                result = score(trial)
        record(trial, result, damage.sparsity, time.perf_counter() - started)
