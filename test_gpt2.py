"""Perturb the weights of monolingual and bilingual GPT-2 models and measure how their held-out bits per byte rise.

The paper's main experiment (Multitasking Models are Robust to Structural Failure, NeurIPS 2022): delete
or prune a growing share of a model's weights (or add noise to them) and evaluate the damaged model on
held-out English text. The paper found that the bilingual model, worse when intact, degrades more
slowly and is better beyond a deletion probability of about 0.13.

For every model (and, with `checkpoints`, every training checkpoint) x kind x scope x level x repeat, the
model is perturbed in place (robustness.perturb, restored bit for bit afterwards) and the strided
sliding-window NLL of each evaluation text is measured (robustness.perplexity): the primary text (the first of
`eval_files`, English) on every model and checkpoint, the others (the second language) on the final models. Repeat r
uses seed `seed + r` for every model: models of the same shape get the same masks (paired comparisons).
Deterministic kinds (the pruning kinds of robustness.perturb's table), the intact model and deletion of every
weight run once per level; the floor (every weight in scope zeroed) is measured once per model, checkpoint and
scope. Beside them: the untrained model of each model's architecture and tokenizer (`untrained`: a floor that does
not depend on the trained model), and, with `matched_quality`, the two checkpoints of each reference model whose
intact bits per byte bracket the other model's, swept with every kind (robustness at matched intact quality).

    python test_gpt2.py                            # offline default: models of train_bilingual_gpt2.py
    python test_gpt2.py --kinds=random_deletion --scope=attn --levels=0,0.1,0.2,0.3,0.4 --repeats=10
    python test_gpt2.py --models=gpt2=gpt2,mine=path/to/model \\
        --eval_files=en=Salesforce/wikitext:wikitext-2-raw-v1:test --max_length=1024 --stride=512
                                                   # the paper's scale (online, a GPU)
    torchrun --standalone --nproc_per_node=8 test_gpt2.py ...   # trials split across 8 GPUs, one CSV

Writes out_dir/perplexity.csv (one row per trial and text, appended as measured; a rerun skips rows already
there), out_dir/summary.json (per comparison a verdict under every declared measure, Holm-corrected over the table,
and the half-failure levels and crossover as description: docs/statistics.md), out_dir/config.json,
out_dir/checkpoints.csv (the training tokens behind each checkpoint of train_bilingual_gpt2.py's models), and
visuals_dir/gpt2_random_deletion.png, gpt2_magnitude_pruning.png (one curve per training checkpoint when
`checkpoints` finds them), gpt2_gaussian_noise.png, gpt2_scope_cost.png (bpb with each scope zeroed / intact, against
training tokens), gpt2_matched_quality.png (robustness against intact bpb across checkpoints).
"""

import functools
import itertools
import json
import operator
import os
import time
from dataclasses import dataclass

import pandas as pd
import torch
from tqdm import tqdm
import transformers
from transformers import AutoModelForCausalLM

from robustness import harness
from robustness.analysis.test_gpt2 import analyze
from robustness.analysis.test_gpt2_quality import quality_brackets
from robustness.analysis.test_gpt2_csv import CHANCE_FILE, CHECKPOINT_COLUMNS, TABLE, TASK_TABLE, UNTRAINED
from robustness.checkpoints import (check_vocabulary, expand_families, load_config, load_model, load_tokenizer,
                                    numbered_dirs, training_tokens)
from robustness.config import check, check_choices, check_range, configure, fail, save_config, settings_checked
from robustness.corpora import first_characters, hub_texts, is_text_file, read_documents
from robustness.lock import claim
from robustness.perplexity import Perplexity, SlidingWindowNLL, encode
from robustness.kinds import KINDS, weight_kinds
from robustness.scopes import SCOPES
from robustness.settings import annealed_budgets, check_tolerance, confirmatory_rows, validate
from robustness.provenance import record_run
from robustness.runtime import parse_models, parse_pairs, seed_everything, setup, teardown
from robustness.stats import LM_DECISIVE, LM_MEASURES
from robustness.sweep import (FLOOR_KIND, Trial, check_kinds, damage_of, merge_parts, mine, open_log,
                              token_windows, trial_grid)

# -----------------------------------------------------------------------------
# models and text
models = ('monolingual=results/train_bilingual_gpt2/monolingual,bilingual=results/train_bilingual_gpt2/bilingual,'
          'control=results/train_bilingual_gpt2/control')  # comma-separated label=path: HF model dir or hub name, or a
                                                           # GPT-2 state-dict file (.pth, .pt, .bin, .safetensors)
tokenizers = ''            # label=folder,...: tokenizer of a state-dict entry (vocab.json + merges.txt, or
                           # tokenizer.json); default: the file's folder
n_head = 0                 # attention heads of state-dict entries (0 = width / 64, GPT-2's convention)
eval_files = 'en=results/train_bilingual_gpt2/eval_en.txt,uk=results/train_bilingual_gpt2/eval_lang2.txt'
                           # label=text,...: a text file (one document per line) or online a HF dataset
                           # name:config:split; the first is the primary text (every model and checkpoint, the
                           # verdicts), the others are scored on the final model of each pair's first model (the second
                           # language; every model's without compare)
eval_chars = 16000         # evaluate the first this many characters of each text, cut at a line end (0 = all of it)
untrained = True           # also score each model's untrained counterpart (its architecture and tokenizer, random
                           # initialisation): the floor that does not depend on the trained model
checkpoints = True         # also evaluate every <model dir>/step_<n>/ training checkpoint (the primary text), with
                           # checkpoint_kinds
checkpoint_kinds = ['magnitude_pruning']  # kinds swept on every training checkpoint
matched_quality = True     # for each compare pair a:b, sweep the two checkpoints of b whose intact bpb brackets a's,
                           # with every kind
annealed = []              # reference:label:label...: models (labels of models) of a reference's recipe annealed at
                           # shorter budgets, shortest first: matched quality against them too (annealed against
                           # annealed); their final models are swept as every model's are
# the field's evaluation: lm-evaluation-harness tasks on the damaged final models of lm_eval_kinds (tasks.csv)
lm_eval_tasks = ['bible_last_word_en', 'bible_bpb_en']  # lm-eval task, group or tag names ([] = none); the offline ones
                                                        # are in tasks/ (their data: python tasks/build_tasks.py)
lm_eval_include = 'tasks'  # a folder of task YAMLs besides lm-eval's own ('' = lm-eval's own only)
lm_eval_kinds = ['magnitude_pruning']  # kinds whose trials run the tasks, where swept (empty = every kind): the pruning
                                       # literature's, one draw per level; the intact, untrained and zeroed models
                                       # always do
lm_eval_limit = 0          # documents per task (0 = all)
lm_eval_batch_size = 32    # lm-eval requests per forward pass
lm_eval_samples = False    # keep every document's inputs and outputs in the intact models' out_dir/lm_eval/*.json
                           # (large)
save_damaged = []          # kind:scope:level:repeat of final-model trials saved, damaged as measured, as Hugging Face
                           # folders in out_dir/damaged/
# perturbations
kinds = ['random_deletion', 'magnitude_pruning', 'gaussian_noise', 'head_deletion']  # random_deletion |
                           # magnitude_pruning | global_magnitude_pruning | gaussian_noise | neuron_deletion |
                           # head_deletion | nm_pruning | wanda_pruning
scope = ['attn', 'blocks'] # attn (the paper's probe) | mlp | blocks | all (with embeddings)
floor_scopes = []          # scopes whose floor alone (every weight zeroed) is measured too, for the report's scope cost
                           # (swept scopes always are)
layers = []                # perturb only these transformer blocks (0-based; empty = all)
levels = [0.0, 0.1, 0.2, 0.3, 0.4, 0.6, 0.8, 0.9, 1.0]  # deletion probability / pruned fraction, in [0, 1], for every
                                                        # kind but gaussian_noise (the paper's regime, p <= 0.4, then to
                                                        # failure)
noise_levels = [0.0, 0.02, 0.04, 0.08, 0.16]  # std of the added noise, >= 0, for gaussian_noise (to where the default
                                              # models' bpb stops rising)
repeats = 3                # draws per level of a random kind, paired across models (deterministic kinds: 1)
nm_group = 4               # nm_pruning: weights per group along a matrix's inputs (level 0.5 = 2:4)
calibration_file = 'results/train_bilingual_gpt2/train_en.txt'  # wanda_pruning: text whose activations weigh the
                           # weights (training text, never the evaluation text); a file or a HF dataset
                           # name:config:split
calibration_windows = 128  # wanda_pruning: windows of the calibration text (each of the model's window length)
seed = 0                   # repeat r draws with seed + r; untrained models of a single model are initialised with it
# perplexity
max_length = 0             # tokens per window (0 = each model's context length)
stride = 0                 # tokens between window starts (0 = max_length: windows overlap by one token)
batch_size = 8             # windows per forward pass
precision = 'auto'         # auto (bf16 autocast on a GPU, fp32 on a CPU) | fp32 | bf16
device = 'auto'            # auto | cpu | cuda
# statistics and output
compare = ['bilingual:monolingual', 'bilingual:control']  # a:b pairs compared (a - b); pairs with a missing label are
                                                          # skipped
confirmatory = []          # a:b:kind:scope rows declared before the run (docs/statistics.md): also tested at 5% with
                           # Holm over them alone
measures = list(LM_DECISIVE)  # the decisive measures: a direction must hold under every one (docs/statistics.md); the
                              # first is the headline; any of retained_area | retained_area_untrained | mean_excess |
                              # mean_log_ratio (every one is reported)
unit = 'byte'              # byte | token: the unit of the excess measure that decides (per token compares models only
                           # within one tokenizer); the other is reported beside it
equivalence_margin = 0.05  # retained areas: "equivalent" when every measure's corrected interval lies within its
                           # margin; this one's is +- this
relative_margin = 0.05     # mean excess and mean log ratio: their margin, this fraction of the intact score (excess) or
                           # log(1 + this)
matched_tolerance = 0.005  # matched quality: a pair whose final models' intact bpb differ by at most this fraction of
                           # a's is matched already
bootstrap = 2000           # bootstrap resamples (training seeds, then repeats) for the secondary statistics' intervals
failure_fraction = 0.5     # half-failure level (description): the damage at which bpb has gone this far from intact to
                           # the floor
out_dir = 'results/test_gpt2'  # perplexity.csv, summary.json, config.json
visuals_dir = 'visuals'    # where the figures go
# -----------------------------------------------------------------------------
config = configure(globals(), renamed={'epochs': 'checkpoints', 'epoch_kinds': 'checkpoint_kinds',
                                       'eval_file': 'eval_files'})

# Validate everything before any work: the settings the scripts share, then this script's own.
validate(config, kinds=weight_kinds(), scopes=SCOPES, measures=LM_MEASURES, untrained=untrained)
check_choices('lm_eval_kinds', lm_eval_kinds, weight_kinds())  # those not swept run nothing
check(all(isinstance(layer, int) for layer in layers), f"layers: {layers} must be block indices (integers)")
check_range('max_length', max_length, 0)  # 0: each model's context; run_glue_test.py's needs a number
check(max_length == 0 or max_length >= 2, f"max_length: {max_length} leaves nothing to predict; use at least 2")
check(stride <= max_length or max_length == 0, f"stride: {stride} is longer than max_length {max_length}")
check_tolerance(matched_tolerance, relative_margin)
grids = {'levels': levels, 'noise_levels': noise_levels}
model_paths = parse_models(models)
labels = [label for label, _ in model_paths]
tokenizer_dirs = dict(parse_models(tokenizers, 'tokenizers')) if tokenizers.strip() else {}
for label in tokenizer_dirs:
    check(label in labels, f"tokenizers: {label!r} is not a label of models ({', '.join(labels)})")
check_range('n_head', n_head, 0)
pairs = parse_pairs(compare, labels)  # the pairs' form, checked before any work
confirmatory_rows(confirmatory, pairs, kinds, scope)
annealed_budgets(annealed, labels)
text_specs = parse_models(eval_files, 'eval_files')  # [(label, file or dataset)]: unique labels
settings_checked()  # --help stops here; the files the settings name are checked after it
for label, spec in text_specs:
    check(not is_text_file(spec) or os.path.isfile(spec), f"eval_files: {label}={spec} does not exist")
check('wanda_pruning' not in kinds + checkpoint_kinds or not is_text_file(calibration_file)
      or os.path.isfile(calibration_file),
      f"calibration_file: {calibration_file} does not exist (wanda_pruning weighs the weights by activations on it)")
layers_text = ','.join(map(str, sorted(layers))) if layers else 'all'


def saved_trial(entry, grid):
    """The trial of `grid` (the final models') that a save_damaged entry 'kind:scope:level:repeat' names; a one-line
    error where it names none."""
    parts = entry.split(':')
    check(len(parts) == 4, f"save_damaged: {entry!r} is not kind:scope:level:repeat")
    try:
        named = (parts[0], parts[1], float(parts[2]), int(parts[3]))
    except ValueError:
        fail(f"save_damaged: {entry!r}: the level must be a number and the repeat an integer")
    matches = [trial for trial in grid if (trial.kind, trial.scope, trial.level, trial.repeat) == named]
    check(matches, f"save_damaged: {entry!r} names no trial of the grid (kinds {', '.join(kinds)}, scope "
                 f"{', '.join(scope)}, their levels, repeats 0..{repeats - 1}; one draw for a deterministic kind)")
    return matches[0]


@functools.cache
def load_text(spec, setting):
    """A text: a file as the training script writes it, or online a HF dataset name:config:split (column text)."""
    if is_text_file(spec):
        documents, _ = read_documents(spec, setting)
        return '\n'.join(documents) + '\n'
    return '\n\n'.join(hub_texts(spec, setting, 'test'))  # as the HF perplexity guide joins wikitext


@dataclass(eq=False)  # one model is itself: compared by identity
class Model:
    """One model and training seed to evaluate: its path, tokenizer and config, its window, its checkpoints
    [(name, path)] ('final' first), the token ids of every text and Wanda's calibration windows."""
    label: str
    train_seed: object
    path: str
    tokenizer: object
    config: object
    window: int
    checkpoint_paths: list
    token_ids: dict
    calibration: object

    @property
    def name(self):
        return self.label + (f' seed {self.train_seed}' if self.train_seed != '' else '')


def inspect(label, train_seed, path, texts, grids, tokenizer_dirs):
    """The Model of one `models` entry and training seed, with one-line errors for a missing dir or file, an
    unreachable hub, a state dict that is not GPT-2's, a tokenizer without its files or with more tokens than
    embedding rows, a window the model cannot take, a kind its scopes cannot hold."""
    name = label + (f' seed {train_seed}' if train_seed != '' else '')
    tokenizer = load_tokenizer(path, 'models', tokenizer_dirs.get(label, ''))
    model_config = load_config(path, 'models', n_head)
    check_vocabulary(tokenizer, model_config, name)
    # the window: the positions the model takes; ALiBi families (BLOOM) set no limit and need max_length
    context = (getattr(model_config, 'n_positions', None) or getattr(model_config, 'max_position_embeddings', None)
               or max_length)
    check(context, f"max_length: {name} ({model_config.model_type}) sets no limit on its positions; set max_length")
    check(max_length <= context, f"max_length: {max_length} is longer than the {context} positions of {name}")
    window = max_length or context
    check(stride <= window, f"stride: {stride} is longer than {name}'s window of {window} tokens")
    n_layers = model_config.num_hidden_layers
    check(not layers or max(layers) < n_layers,
          f"layers: {max(layers) if layers else ''} is outside {name}'s {n_layers} blocks (0..{n_layers - 1})")
    final_step = (training_tokens(path) or [None])[0]  # the checkpoint at the last step is the final model again
    checkpoint_paths = [('final', path)] + ([(f'step_{step}', folder) for step, folder in numbered_dirs(path, 'step_')
                                  if step != final_step] if checkpoints else [])
    token_ids = {text_label: encode(tokenizer, text) for text_label, text in texts.items()}
    for text_label, ids in token_ids.items():
        check(len(ids) >= 2, f"eval_files: {text_label} gives {name} fewer than 2 tokens")
    calibration = None
    if 'wanda_pruning' in kinds + checkpoint_kinds:  # enough characters of the calibration text for the windows
        calibration_text = load_text(calibration_file, 'calibration_file')[:calibration_windows * window * 16]
        calibration_ids = encode(tokenizer, calibration_text)
        calibration = token_windows(calibration_ids, calibration_windows, window, 'calibration_file')
    check_kinds(model_config, AutoModelForCausalLM, sorted(set(kinds) | set(checkpoint_kinds)), scope, [layers or None],
                grids, nm_group, name)
    return Model(label=label, train_seed=train_seed, path=path, tokenizer=tokenizer, config=model_config,
                 window=window, checkpoint_paths=checkpoint_paths, token_ids=token_ids, calibration=calibration)


@dataclass(frozen=True)
class Run:
    """What this run measures beside its settings: the texts' labels (the primary first) and their UTF-8 bytes, the
    final models' and the checkpoints' grids, the intact trial, the compared pairs, lm-eval's loaded tasks (None: no
    tasks) and the trials whose damaged final models are saved."""
    texts: tuple
    text_bytes: dict
    final_grid: list
    checkpoint_grid: list
    intact: Trial
    pairs: list
    tasks: object
    saved: list


@dataclass(frozen=True)
class Work:
    """One trial of one model's checkpoint (or its untrained counterpart), scored on the texts `texts`, and with
    `tasks` on lm_eval_tasks too."""
    model: Model
    checkpoint: str
    path: str
    texts: tuple
    tasks: bool
    trial: Trial


@dataclass
class Logs:
    """Where a run's rows go: this process's logs of perplexity.csv and tasks.csv, and every log of each that holds
    measured rows (part files of a stopped torchrun included)."""
    perplexity: object
    measured: list
    tasks: object
    tasks_measured: list


def open_logs(rt):
    (perplexity, measured), (tasks, tasks_measured) = open_log(out_dir, TABLE, rt), open_log(out_dir, TASK_TABLE, rt)
    return Logs(perplexity, measured, tasks, tasks_measured)


def runs_tasks(checkpoint, trial):
    """Whether a trial runs lm_eval_tasks: on the final models, the intact model (level 0, whichever kind's row is
    measured first: its score serves every kind's), the trials of lm_eval_kinds and the floors (every weight of a
    scope zeroed); on the untrained models, intact."""
    if not lm_eval_tasks or checkpoint not in ('final', UNTRAINED):
        return False
    floor = trial.kind == FLOOR_KIND and trial.level == 1.0
    return checkpoint == UNTRAINED or trial.level == 0 or floor or not lm_eval_kinds or trial.kind in lm_eval_kinds


def plan(all_models, run, logs):
    """Every trial not yet in a log: the final models on their texts (model_texts); their untrained counterparts,
    intact, on the same; each checkpoint on the primary text (its floors and checkpoint_kinds)."""
    work = []
    for model in all_models:
        texts = model_texts(model.label, run)
        targets = [(name, folder, texts, run.final_grid) if name == 'final' else
                   (name, folder, run.texts[:1], run.checkpoint_grid) for name, folder in model.checkpoint_paths]
        if untrained:
            targets.append((UNTRAINED, model.path, texts, [run.intact]))
        work += unmeasured(model, targets, logs)
    return work


def model_texts(label, run):
    """The texts a final model is scored on: all of them for the first model of a compare pair, whose second language
    the analysis reads, and for every model where nothing is compared; the primary text for the others (what they
    would score on a language they never saw is read by nothing, and in the paper's own tokenizers costs the
    monolingual model several times its English tokens)."""
    return run.texts if not run.pairs or label in {a for a, _ in run.pairs} else run.texts[:1]


def unmeasured(model, targets, logs):
    """[Work] of `targets` ([(checkpoint, path, texts, trials)]) with a text whose row, or tasks whose rows, no log
    holds yet."""
    work = []
    for name, folder, texts, trials in targets:
        for trial in trials:
            tasks = runs_tasks(name, trial)
            missing = [text for text in texts if not any(log.has(**row_key(model, name, text, trial))
                                                         for log in logs.measured)]
            unscored = tasks and not any(log.has_prefix(**trial_key(model, name, trial)) for log in logs.tasks_measured)
            if missing or unscored:
                work.append(Work(model=model, checkpoint=name, path=folder, texts=texts, tasks=tasks, trial=trial))
    return work


def trial_key(model, checkpoint, trial):
    return dict(model=model.label, train_seed=model.train_seed, checkpoint=checkpoint, **trial._asdict())


def row_key(model, checkpoint, text, trial):
    return dict(model=model.label, train_seed=model.train_seed, checkpoint=checkpoint, text=text, **trial._asdict())


def matched_plan(all_models, run, logs):
    """The matched-quality trials not yet in a log: for each compare pair a:b and training seed of b, the two
    checkpoints whose intact bpb on the primary text brackets a's (from the rows measured so far), every kind of the
    final models' grid, on the primary text."""
    brackets = quality_brackets(pd.concat([log.read() for log in logs.measured]), run.pairs, run.texts[0])
    model_of = {(model.label, str(model.train_seed)): model for model in all_models}  # seeds read back as text
    chosen = {}  # (model, seed) -> checkpoint names, in order
    for pair in brackets.values():
        for seed, bracket in pair['seeds'].items():
            if bracket is not None:
                chosen.setdefault((pair['reference'], seed), set()).update(bracket[:2])
    work = []
    for (label, seed), names in chosen.items():
        model = model_of[label, seed]
        targets = [(name, folder, run.texts[:1], run.final_grid) for name, folder in model.checkpoint_paths
                   if name in names]
        work += unmeasured(model, targets, logs)
    return work


def load_checkpoint(model, checkpoint, path):
    """The weights of a model's checkpoint at `path`, or its untrained counterpart (seeded by its training seed, or
    `seed` for a single model)."""
    if checkpoint == UNTRAINED:
        seed_everything(model.train_seed if model.train_seed != '' else seed)
        return AutoModelForCausalLM.from_config(model.config)
    return load_model(AutoModelForCausalLM, path, 'models', n_head)


def folder_name(model):
    return model.label + (f'_seed{model.train_seed}' if model.train_seed != '' else '')


def measure(run, scorers, tasks, lm, model, checkpoint, network, trial):
    """Everything a trial measures of the model as it is now (damaged): {text: (summed NLL, scored tokens)} and, for a
    trial that `tasks` holds, lm-eval's results of its tasks; the intact final model's results are kept whole
    (out_dir/lm_eval/), and a trial of run.saved is saved."""
    results = {'texts': {text: scorer() for text, scorer in scorers.items()}, 'tasks': None}
    if trial in tasks:
        keep = checkpoint == 'final' and trial.level == 0
        results['tasks'] = harness.evaluate_tasks(lm, run.tasks, lm_eval_limit, samples=keep and lm_eval_samples)
        if keep:
            os.makedirs(os.path.join(out_dir, 'lm_eval'), exist_ok=True)
            with open(os.path.join(out_dir, 'lm_eval', f'{folder_name(model)}.json'), 'w') as f:
                json.dump(results['tasks'], f, indent=2, default=str)
    if checkpoint == 'final' and trial in run.saved:
        folder = os.path.join(out_dir, 'damaged', folder_name(model),
                              f'{trial.kind}_{trial.scope}_{trial.level:g}_{trial.repeat}')
        network.save_pretrained(folder)
        model.tokenizer.save_pretrained(folder)
        with open(os.path.join(folder, 'damage.json'), 'w') as f:  # what was done to it, and what it scored
            json.dump({'model': model.path, 'train_seed': model.train_seed, **trial._asdict(),
                       'damage_seed': seed + trial.repeat,
                       'bpb': {text: Perplexity(nll, tokens, run.text_bytes[text]).bpb
                               for text, (nll, tokens) in results['texts'].items()}}, f, indent=2)
    return results


def write_rows(logs, model, checkpoint, text_bytes, trial, results, sparsity, seconds):
    """A row per text of one trial and a row per task metric (those no log holds yet: a run stopped between the rows of
    one trial)."""
    for text, (nll, tokens) in results['texts'].items():
        key = row_key(model, checkpoint, text, trial)
        if any(log.has(**key) for log in logs.measured):
            continue
        scored = Perplexity(nll, tokens, text_bytes[text])
        logs.perplexity.write(dict(**key, nll=nll, scored_tokens=tokens, bytes=text_bytes[text], ppl=scored.ppl,
                                   bpb=scored.bpb, sparsity=sparsity, seconds=round(seconds, 4)))
    if results['tasks'] is not None:
        rows = [dict(**trial_key(model, checkpoint, trial), task=task, metric=metric, value=value,
                     stderr='' if stderr is None else stderr, higher_is_better=better)
                for task, metric, value, stderr, better in harness.metric_rows(results['tasks'])]
        logs.tasks.write_rows([row for row in rows if not any(log.has(**{k: row[k] for k in TASK_TABLE.key})
                                                              for log in logs.tasks_measured)])


def run_work(work, run, logs, rt):
    """Measure every Work item of this rank: the items of one model checkpoint share one loaded model, the
    sliding-window batches of each of its texts and, where they run tasks, one lm-eval model around it."""
    progress = tqdm(total=len(work), desc='trials', disable=not rt.is_master)
    for (model, checkpoint, path, texts), group in itertools.groupby(
            work, key=operator.attrgetter('model', 'checkpoint', 'path', 'texts')):
        group = list(group)
        network = load_checkpoint(model, checkpoint, path).to(rt.device).eval()
        # With `layers`, the intact hidden states entering the first perturbed block are computed once and
        # every trial runs only the blocks from there on (perturbations never touch earlier blocks).
        scorers = {text: SlidingWindowNLL(network, model.token_ids[text], model.window, stride or model.window,
                                          batch_size, first_block=min(layers) if layers else 0, precision=precision)
                   for text in texts}
        tasks = [item.trial for item in group if item.tasks]
        lm = harness.in_memory(network, model.tokenizer, model.window, lm_eval_batch_size, rt.device) if tasks else None
        options = {kind: KINDS[kind].options_of(nm_group, model.calibration)
                   for kind in set(kinds) | set(checkpoint_kinds)}
        intact = None  # the intact model's results: measured at the first level-0 trial, the same for every one
        for item in group:  # each trial: damage the weights in place, score the texts and run the tasks, restore, write
            trial, started = item.trial, time.perf_counter()
            with damage_of(network, trial, seed, layers or None, options) as damage:
                results = intact if trial.level == 0 and intact is not None else \
                    measure(run, scorers, tasks, lm, model, checkpoint, network, trial)
            intact = results if trial.level == 0 else intact
            write_rows(logs, model, checkpoint, run.text_bytes, trial, results, damage.sparsity,
                       time.perf_counter() - started)
            progress.update()
    progress.close()


def gather(rt):
    """Under torchrun: every rank's rows in the one CSV of each table, seen by every rank."""
    if rt.distributed:
        torch.distributed.barrier()
        if rt.is_master:
            merge_parts(out_dir, TABLE)
            merge_parts(out_dir, TASK_TABLE)
        torch.distributed.barrier()


# -----------------------------------------------------------------------------
# The texts and every model to evaluate: a family folder of seed_<s>/ models gives one per training seed
# (train_seed '' for a single model).
texts = {label: first_characters(load_text(spec, 'eval_files'), eval_chars) for label, spec in text_specs}
for label, text in texts.items():
    check(text.strip(), f"eval_files: {label} has no text")
all_models = [inspect(label, train_seed, path, texts, grids, tokenizer_dirs)
              for label, train_seed, path in expand_families(model_paths)]
# every checkpoint gets the floors too (the scope cost against training tokens) and its intact score (matched quality)
floored = list(dict.fromkeys(scope + floor_scopes))
final_grid = trial_grid(kinds, scope, [layers_text], grids, repeats, floors=floored)
intact_trial = Trial(kind=FLOOR_KIND, scope=scope[0], layers=layers_text, level=0.0, repeat=0)  # the model as it is
checkpoint_grid = trial_grid(checkpoint_kinds, scope, [layers_text], grids, repeats, floors=floored)
if not any(trial.level == 0 for trial in checkpoint_grid):  # every checkpoint's intact score (matched quality)
    checkpoint_grid = [intact_trial, *checkpoint_grid]
run = Run(texts=tuple(texts), text_bytes={label: len(text.encode('utf-8')) for label, text in texts.items()},
          final_grid=final_grid, checkpoint_grid=checkpoint_grid, intact=intact_trial, pairs=pairs,
          tasks=harness.load_tasks(lm_eval_tasks, lm_eval_include) if lm_eval_tasks else None,  # built once, checked
          saved=[saved_trial(entry, final_grid) for entry in save_damaged])

rt = setup(device)
seed_everything(seed)
transformers.utils.logging.disable_progress_bar()  # no bar per checkpoint loaded
if rt.is_master:
    claim(out_dir)
logs = open_logs(rt)
if rt.is_master:
    save_config(config, os.path.join(out_dir, 'config.json'))
    if run.tasks is not None:  # the analysis's floors of the tasks' metrics: their chance levels
        os.makedirs(os.path.join(out_dir, 'lm_eval'), exist_ok=True)
        with open(os.path.join(out_dir, 'lm_eval', CHANCE_FILE), 'w') as f:
            json.dump(harness.chance_levels(run.tasks, lm_eval_limit), f, indent=2)
    # the training tokens behind every checkpoint (models of train_bilingual_gpt2.py), for the scope cost's x axis
    pd.DataFrame([(model.label, model.train_seed, name, *tokens) for model in all_models
                  for name, path in model.checkpoint_paths if (tokens := training_tokens(path))],
                 columns=CHECKPOINT_COLUMNS).to_csv(os.path.join(out_dir, 'checkpoints.csv'), index=False)
work = plan(all_models, run, logs)
print(f"rank {rt.rank}: {len(mine(work, rt))} of {len(work)} trials to run on {rt.device}; texts: "
      + ', '.join(f"{label} {len(text):,} characters" for label, text in texts.items()) + f"; layers: {layers_text}"
      + (f"; lm-eval tasks {', '.join(lm_eval_tasks)} on {sum(item.tasks for item in work)} of them"
         if lm_eval_tasks else ''))
run_work(mine(work, rt), run, logs, rt)
gather(rt)
if matched_quality and pairs and checkpoints:
    logs = open_logs(rt)  # every rank's rows, merged
    work = matched_plan(all_models, run, logs)
    print(f"rank {rt.rank}: matched quality: {len(mine(work, rt))} of {len(work)} trials")
    run_work(mine(work, rt), run, logs, rt)
    gather(rt)
teardown(rt)
if not rt.is_master:
    raise SystemExit(0)

# -----------------------------------------------------------------------------
# Summary and figures, from the CSV alone (robustness/analysis/test_gpt2.py): `python -m robustness.analyze
# results/test_gpt2` redoes them with other analysis settings, without measuring anything again.
analyze(out_dir, config)
record_run(out_dir)
