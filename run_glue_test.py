"""Fine-tune language models on a sentence-pair task, then damage them and measure the task metric.

For each model of `models` (GPT-2, BERT, mBERT, XLM: anything AutoModelForSequenceClassification
loads), fine-tune a classifier on `task`, save it once as a Hugging Face dir, then sweep weight
damage (robustness.perturb: random deletion, magnitude pruning, global magnitude pruning, Gaussian
noise, neuron deletion; over scopes and first/middle/last layer selections) and input distraction
(random words inserted into each sentence), recording the metric and the eval loss per
(model, train_seed, kind, scope, layers, level, repeat) in out_dir/glue.csv, comparing the pairs of
`compare` in out_dir/summary.json (a verdict on the retained area per comparison, Holm-corrected over the table:
docs/statistics.md) and drawing
visuals_dir/glue_<task>_<kind>.png. A family folder of seed_<s>/ models gives one classifier per seed; on a
CPU each runs in a single-thread process of its own.

The offline default compares the monolingual and bilingual GPT-2s of train_bilingual_gpt2.py (three training
seeds each) on a task built from two English Bible translations (robustness/glue.py): which translation a verse
comes from. The offline paraphrase task (is a pair the same verse in both?), MRPC's kind, is there too, but the
small offline models barely learn it on 2 cores' budget (docs/). Online, any GLUE task:

    python run_glue_test.py
    python run_glue_test.py --task=mrpc --models=gpt2=gpt2 --levels=0,0.2,0.4 --repeats=5
    python run_glue_test.py --task=csv --train_file=train.csv --validation_file=dev.csv
    python run_glue_test.py configs/glue_bert_mrpc.py      # the article's BERT/mBERT/XLM sweeps

A rerun reuses the fine-tuned models in out_dir/finetuned/ and skips the rows already in glue.csv.
"""

import functools
import json
import os
import time
from dataclasses import dataclass

import torch
from tqdm import tqdm
from transformers import (AutoModelForSequenceClassification, AutoTokenizer, DataCollatorWithPadding,
                          get_linear_schedule_with_warmup)

from robustness import glue
from robustness.analysis.run_glue_test import TABLE, analyze
from robustness.checkpoints import check_vocabulary, expand_families, load_config, load_model, load_tokenizer
from robustness.config import check, check_choices, check_range, configure, save_config, settings_checked
from robustness.lock import claim
from robustness.kinds import KINDS, weight_kinds
from robustness.processes import run_jobs
from robustness.provenance import record_run
from robustness.runtime import autocast, parse_models, parse_pairs, seed_everything, setup
from robustness.scopes import SCOPES, num_layers
from robustness.settings import validate
from robustness.stats import CLASSIFIER_MEASURES
from robustness.sweep import Trial, check_kinds, merge_parts, open_log, pending, run_trials, token_windows, trial_grid

# -----------------------------------------------------------------------------
# models and task
models = ('monolingual=results/train_bilingual_gpt2/monolingual,'
          'bilingual=results/train_bilingual_gpt2/bilingual')  # comma-separated label=path: HF dir, family folder of
                           # seed_<s>/ models or hub name, or a GPT-2 state-dict file (.pth, .pt, .bin, .safetensors);
                           # add control=results/train_bilingual_gpt2/control for the control (minutes more on 2 cores:
                           # bench/RESULTS.md)
tokenizers = ''  # label=folder,...: tokenizer of a state-dict entry (vocab.json + merges.txt, or tokenizer.json);
                 # default: the file's folder
n_head = 0  # attention heads of state-dict entries (0 = width / 64, GPT-2's convention)
task = 'translation'  # translation (offline: KJV or WEB for one verse) | paraphrase (offline: KJV/WEB verse pairs) |
                      # csv | cola | sst2 | mrpc | qqp | stsb | mnli | qnli | rte | wnli
train_file = ''  # task=csv: CSV with columns sentence1,sentence2,label (sentence2 optional)
validation_file = ''  # task=csv: the same for the evaluation split
train_size = 8000  # offline tasks: training verses (translation) or pairs (paraphrase), half of each class, from the
                   # books not held out
negatives = 'other_chapter'  # task=paraphrase: non-paraphrases pair a verse with one of another chapter | same_chapter
                             # (harder)
validation_size = 400  # offline tasks: evaluation verses or pairs, from the held-out books (Ruth, Ecclesiastes, Jonah,
                       # Luke, Romans)
max_train_examples = 0  # GLUE/csv: keep the first N training examples (0 = all)
max_eval_examples = 0  # GLUE/csv: keep the first N evaluation examples (0 = all)
# fine-tuning (AdamW, linear schedule with warm-up)
epochs = 1  # passes over the training split
batch_size = 32  # training batch size
max_length = 48  # tokens per example; longer ones lose their end (pairs: tokens from the longer sentence)
lr = 5e-4  # peak learning rate (small models from scratch; 2e-5 for BERT-base)
weight_decay = 0.01  # AdamW weight decay
warmup = 0.1  # fraction of the training steps with a linearly rising learning rate
grad_clip = 1.0  # max gradient norm
# damage sweeps
kinds = ['random_deletion', 'magnitude_pruning', 'gaussian_noise', 'distraction']  # robustness.perturb kinds
                           # (global_magnitude_pruning, neuron_deletion, head_deletion, nm_pruning, wanda_pruning too;
                           # left out of the default for the CPU budget) and distraction (random words in the inputs)
scope = ['attn']  # weights damaged: attn | mlp | blocks | all (several: a list)
layer_sets = ['all']  # blocks damaged: all | first | middle (blocks L/2 .. L/2+L/3-1, 6-9 of 12) | last
levels = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]  # fractions deleted/pruned, every kind but gaussian_noise, to failure (the
                                         # article: 0..1 in steps of 0.01)
noise_levels = [0.0, 0.02, 0.035, 0.05, 0.075, 0.1, 0.15]  # gaussian_noise std (the default GPT-2s' weights have std
                                                           # ~0.02; the grid goes past the default classifiers'
                                                           # half-failure level)
repeats = 2  # draws per level of a random kind (different masks / noise; deterministic kinds: 1)
nm_group = 4  # nm_pruning: weights per group along a matrix's inputs (level 0.5 = 2:4)
calibration_file = ''  # wanda_pruning: text whose activations weigh the weights ('' = the task's training sentences)
calibration_windows = 128  # wanda_pruning: calibration windows of max_length tokens
distraction_levels = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5]  # inserted words per word (the article: steps of 0.02)
distraction_repeats = 2  # random inputs per distraction level (the article: 25)
distractor_file = ''  # distractor words, one per line (empty: the words of the training sentences)
# run
eval_batch_size = 128  # evaluation batch size
seed = 0  # fine-tuning, pair sampling and damage seeds
compare = ['bilingual:monolingual', 'bilingual:control']  # a:b pairs compared in summary.json (a - b); pairs with a
                                                          # missing label are skipped
measures = ['retained_area', 'mean_excess', 'mean_log_ratio']  # the measures a direction must hold under, every one
                           # (docs/statistics.md)
equivalence_margin = 0.05  # retained area: "equivalent" when every measure's corrected interval lies within its margin;
                           # this one's is +- this
relative_margin = 0.05  # mean excess and mean log ratio: their margin, this fraction of the intact metric (excess) or
                        # log(1 + this)
bootstrap = 2000  # bootstrap resamples (training seeds, then repeats) for the secondary statistics' intervals
failure_fraction = 0.5  # half-failure level (description): the damage at which the metric has gone this far from intact
                        # to chance
device = 'auto'  # auto | cpu | cuda
jobs = 0  # CPU: models (each model x training seed) fine-tuned and swept at once, one process and one thread each (0 =
          # as many as cores)
out_dir = 'results/run_glue_test'  # glue.csv, config.json and the fine-tuned models
                                   # (finetuned/<task>_<label>[_seed<s>]/)
visuals_dir = 'visuals'  # figures
# -----------------------------------------------------------------------------
config = configure(globals(), renamed={'train_pairs': 'train_size', 'validation_pairs': 'validation_size'})

# Validate everything before any work: the settings the scripts share, then this script's own.
validate(config, kinds=(*weight_kinds(), 'distraction'), scopes=SCOPES, measures=CLASSIFIER_MEASURES)
check_choices('task', task, glue.TASKS)
check_choices('negatives', negatives, glue.NEGATIVES)
check_choices('layer_sets', layer_sets, ('all', 'first', 'middle', 'last'))
check_range('max_length', max_length, 1)  # test_gpt2.py's 0 (the model's context) has no meaning here
check(task != 'csv' or train_file and validation_file, 'task=csv needs --train_file and --validation_file')
settings_checked()  # --help stops here; the files the settings name are checked after it
check(not calibration_file or os.path.isfile(calibration_file), f'calibration_file: {calibration_file} does not exist')
check(not distractor_file or os.path.isfile(distractor_file), f'distractor_file: {distractor_file} does not exist')
damage_kinds = [kind for kind in kinds if kind != 'distraction']
grids = {'levels': levels, 'noise_levels': noise_levels}


def layer_indices(name, n_layers):
    """Block indices of a layer selection; None = every block."""
    if name == 'all':
        return None
    if name == 'first':
        return [0]
    if name == 'last':
        return [n_layers - 1]
    return list(range(n_layers // 2, min(n_layers, n_layers // 2 + max(1, n_layers // 3))))  # middle


@dataclass(frozen=True)
class Base:
    """A language model to fine-tune, one model and training seed: its label, path and the tokenizer folder of a
    state-dict entry."""
    label: str
    train_seed: object
    path: str
    tokenizer_dir: str

    @property
    def name(self):
        return self.label + (f'_seed{self.train_seed}' if self.train_seed != '' else '')


@dataclass(frozen=True)
class Task:
    """What every classifier shares: the task's name, its splits ({'train', 'validation'}: {'sentence1',
    'sentence2' or None, 'label'}), metrics and their floors (the best constant predictor; 'loss' too), its labels and
    the words distraction inserts."""
    name: str
    data: dict
    metrics: tuple
    floors: dict
    num_labels: int
    regression: bool
    distractor_words: list


def load_task():
    """The task's data, metrics and floors: the offline verse tasks, a CSV task, or GLUE from the hub."""
    if task == 'translation':
        data = glue.translation_verses(train_size, validation_size, seed=seed)
    elif task == 'paraphrase':
        data = glue.paraphrase_pairs(train_size, validation_size, seed=seed, negatives=negatives)
    elif task == 'csv':
        data = {'train': glue.read_csv(train_file, 'train_file'),
                'validation': glue.read_csv(validation_file, 'validation_file')}
    else:
        data = glue.load_glue(task)
    for name, limit in (('train', max_train_examples), ('validation', max_eval_examples)):
        if limit and task not in glue.OFFLINE_TASKS:
            data[name] = {column: values[:limit] if values is not None else None
                          for column, values in data[name].items()}
        check(data[name]['label'], f'{name} split of task {task} is empty')
    if task in glue.GLUE_TASKS:
        num_labels = glue.GLUE_TASKS[task].num_labels
    else:
        num_labels = max(data['train']['label'] + data['validation']['label']) + 1
        check(num_labels >= 2, f'task {task}: the labels have only one class')
    metrics = glue.task_metrics(task, num_labels)
    labels = data['validation']['label']
    floors = {metric: glue.floor(metric, labels, num_labels == 1) for metric in metrics}
    floors['loss'] = glue.floor_loss(labels, num_labels == 1)
    if distractor_file:
        words = [w.strip() for w in open(distractor_file, encoding='utf-8') if w.strip()]
        check(words, f'distractor_file: {distractor_file} has no words')
    else:
        words = glue.words_of(data['train'])
    return Task(task, data, metrics, floors, num_labels, num_labels == 1, words)


def calibration_tokens(tokenizer, train_split):
    """Wanda's calibration: `calibration_windows` windows of max_length tokens of calibration_file, or of the
    training sentences (never the evaluation split)."""
    if calibration_file:
        text = open(calibration_file, encoding='utf-8').read(calibration_windows * max_length * 16)
    else:
        text = ' '.join(s for column in ('sentence1', 'sentence2') for s in (train_split[column] or [])[:20000])
    return token_windows(tokenizer(text, add_special_tokens=False)['input_ids'], calibration_windows, max_length,
                         'calibration_file')


def measured(logs, **key):
    return any(results.has(**key) for results in logs)


def write(log, logs, base, the_task, trial, result, sparsity, seconds=None):
    """The rows of one measurement (a row per metric) of `base` under `trial` (a Trial)."""
    for metric in the_task.metrics:
        key = dict(model=base.label, train_seed=base.train_seed, task=the_task.name, **trial._asdict(), metric=metric)
        if measured(logs, **key):
            continue  # written before an interruption between the metrics of one measurement
        log.write(dict(**key, value=result[metric], floor=the_task.floors[metric], loss=result['loss'],
                       sparsity=sparsity, examples=len(the_task.data['validation']['label'])))


def fine_tune(model, tokenizer, the_task, label, device):
    """Fine-tune the classifier on the task's training split: AdamW, a linear schedule with warm-up, clipping."""
    model.to(device).train()
    collator = DataCollatorWithPadding(tokenizer)  # pads each batch to its longest example
    loader = torch.utils.data.DataLoader(glue.encode(tokenizer, the_task.data['train'], max_length),
                                         batch_size=batch_size, shuffle=True, collate_fn=collator,
                                         generator=torch.Generator().manual_seed(seed))
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    steps = epochs * len(loader)
    scheduler = get_linear_schedule_with_warmup(optimizer, int(warmup * steps), steps)
    progress = tqdm(total=steps, desc=f'fine-tuning {label} on {the_task.name}')
    for epoch in range(epochs):
        for batch in loader:
            batch = {key: tensor.to(device) for key, tensor in batch.items()}
            with autocast(device):
                loss = model(**batch).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            progress.update()
            progress.set_postfix(epoch=epoch, loss=f'{loss.item():.3f}')
    progress.close()


def classifier(base, the_task, device):
    """(tokenizer, classifier) of one model and training seed, fine-tuned on the task once and saved; a rerun loads
    the saved classifier."""
    seed_everything(seed)
    finetuned_dir = os.path.join(out_dir, 'finetuned', f'{the_task.name}_{base.name}')
    if os.path.isfile(os.path.join(finetuned_dir, 'config.json')):
        print(f'{base.name}: loading the fine-tuned classifier from {finetuned_dir}')
        tokenizer = AutoTokenizer.from_pretrained(finetuned_dir)
        model = AutoModelForSequenceClassification.from_pretrained(finetuned_dir).to(device)
    else:
        tokenizer = load_tokenizer(base.path, 'models', base.tokenizer_dir)
        model = load_model(AutoModelForSequenceClassification, base.path, 'models', n_head,
                           num_labels=the_task.num_labels,
                           problem_type='regression' if the_task.regression else 'single_label_classification')
        glue.set_padding(tokenizer, model)
        fine_tune(model, tokenizer, the_task, base.name, device)
        model.save_pretrained(finetuned_dir)
        tokenizer.save_pretrained(finetuned_dir)
        print(f'{base.name}: saved the fine-tuned classifier to {finetuned_dir}')
    check(tokenizer.pad_token_id == model.config.pad_token_id,
          f'models: {base.name}: tokenizer and config pad tokens differ')
    return tokenizer, model.eval()


def timed_evaluation(model, eval_batches, metrics, device, seconds, trial):
    """The metrics and loss under the model's current weights; the seconds it took are appended to `seconds`."""
    start = time.perf_counter()
    result = glue.evaluate(model, eval_batches, metrics, device)
    seconds.append(time.perf_counter() - start)
    return result


def distract_all(model, tokenizer, the_task, intact, log, logs, base, device):
    """Distraction: random words from the word list inserted into every sentence, at each level and repeat no log
    holds yet (level 0 is the intact model)."""
    collator = DataCollatorWithPadding(tokenizer)
    validation = the_task.data['validation']
    for level, repeat in tqdm([(level, repeat) for level in distraction_levels
                               for repeat in range(1 if level == 0 else distraction_repeats)],
                              desc=f'distraction {base.name}'):
        trial = Trial('distraction', 'inputs', 'none', level, repeat)
        if measured(logs, model=base.label, train_seed=base.train_seed, task=the_task.name, **trial._asdict(),
                    metric=the_task.metrics[-1]):
            continue
        if level == 0:
            result = intact
        else:
            distracted = glue.distract(validation, level, the_task.distractor_words, seed=seed + repeat)
            batches = glue.batches(glue.encode(tokenizer, distracted, max_length), collator, eval_batch_size, device)
            result = glue.evaluate(model, batches, the_task.metrics, device)
        write(log, logs, base, the_task, trial, result, 0.0)


def measure(base, the_task, trials, damage_kinds, device, part=None):
    """Fine-tune (or load) the classifier of one model and training seed, then measure every damage trial of `trials`
    (of `damage_kinds`) and every distraction level that no log holds yet: into glue.csv, or into its part file
    `part` (a process of its own)."""
    log, logs = open_log(out_dir, TABLE, part=part)
    metrics, floors, validation = the_task.metrics, the_task.floors, the_task.data['validation']
    tokenizer, model = classifier(base, the_task, device)
    eval_batches = glue.batches(glue.encode(tokenizer, validation, max_length), DataCollatorWithPadding(tokenizer),
                                eval_batch_size, device)
    n_layers = num_layers(model)
    start = time.perf_counter()
    intact = glue.evaluate(model, eval_batches, metrics, device)
    intact_seconds = time.perf_counter() - start
    scores = ', '.join(f'{m} {intact[m]:.4f} (constant predictor {floors[m]:.4f})' for m in metrics)
    print(f"{base.name}: intact: {scores}, loss {intact['loss']:.4f}; "
          f"{len(validation['label']) / intact_seconds:.0f} examples/s")

    # weight damage: every (kind, scope, layers, level, repeat) not yet in glue.csv; level 0 is the intact model
    todo = pending(trials, logs, lambda t: dict(model=base.label, train_seed=base.train_seed, task=the_task.name,
                                                **t._asdict(), metric=metrics[-1]))
    calibration = calibration_tokens(tokenizer, the_task.data['train']) if 'wanda_pruning' in damage_kinds else None
    timing, started = [], time.perf_counter()
    run_trials(model, todo, functools.partial(timed_evaluation, model, eval_batches, metrics, device, timing),
               functools.partial(write, log, logs, base, the_task), seed,
               layers_of=functools.partial(damaged_layers, n_layers=n_layers),
               options={kind: KINDS[kind].options_of(nm_group, calibration) for kind in damage_kinds},
               desc=f'damage {base.name}', intact=intact)
    if timing:
        eval_seconds, damage_seconds = sum(timing), time.perf_counter() - started - sum(timing)
        examples = len(validation['label'])
        print(f'{base.name}: {len(timing)} damaged evaluations: {len(timing) * examples / eval_seconds:.0f} '
              f'examples/s in the evaluations ({examples / intact_seconds:.0f} intact); '
              f'damaging and restoring the weights took {damage_seconds:.1f} s, '
              f'{100 * damage_seconds / eval_seconds:.1f}% of the {eval_seconds:.1f} s of evaluation')
    if 'distraction' in kinds:
        distract_all(model, tokenizer, the_task, intact, log, logs, base, device)
    print(f'{base.name}: done')


def damaged_layers(trial, n_layers):
    """The blocks a trial damages (None: all)."""
    return layer_indices(trial.layers, n_layers)


# -----------------------------------------------------------------------------
# Every model: a family folder of seed_<s>/ models (train_bilingual_gpt2.py) gives one base model per training seed
# ('' for a single model); a missing dir or file, a bad state dict or tokenizer, or a kind its scopes cannot hold fails
# here, before any work.
model_specs = parse_models(models)
parse_pairs(compare, [label for label, _ in model_specs])  # the pairs' form, checked before any work
tokenizer_dirs = dict(parse_models(tokenizers, 'tokenizers')) if tokenizers.strip() else {}
for label in tokenizer_dirs:
    check(label in dict(model_specs),
          f"tokenizers: {label!r} is not a label of models ({', '.join(dict(model_specs))})")
bases = [Base(label, train_seed, path, tokenizer_dirs.get(label, ''))
         for label, train_seed, path in expand_families(model_specs)]
for base in bases:
    model_config = load_config(base.path, 'models', n_head)
    check_vocabulary(load_tokenizer(base.path, 'models', base.tokenizer_dir), model_config, base.label)
    positions = getattr(model_config, 'max_position_embeddings', None)
    check(positions is None or max_length <= positions,
          f'max_length: {max_length} is more than model {base.label} takes ({positions} positions)')
    check_kinds(model_config, AutoModelForSequenceClassification, damage_kinds, scope,
                [layer_indices(layers_name, model_config.num_hidden_layers) for layers_name in layer_sets], grids,
                nm_group, base.label)
runtime = setup(device)
print(f'models: {", ".join(label for label, _ in model_specs)}; task {task}; device {runtime.device}')
the_task = load_task()
constant = ', '.join(f'{m} {v:.3f}' for m, v in the_task.floors.items())
print(f"train {len(the_task.data['train']['label'])} examples, validation {len(the_task.data['validation']['label'])}; "
      f"best constant predictor (majority class for accuracy): {constant}")

claim(out_dir)
save_config(config, os.path.join(out_dir, 'config.json'))
with open(os.path.join(out_dir, 'floors.json'), 'w') as f:  # the analysis's floors: metrics first, then the loss
    json.dump(the_task.floors, f, indent=2)
trials = trial_grid(damage_kinds, scope, layer_sets, grids, repeats)
# on a CPU each model in a single-thread process of its own, into a part file
run_jobs(measure, [(base.name, (base, the_task, trials, damage_kinds, runtime.device)) for base in bases],
          min(len(bases), jobs or os.cpu_count() or 1), os.path.join(out_dir, 'logs'), 'models',
          parallel=runtime.device.type == 'cpu', parts=True)
merge_parts(out_dir, TABLE)

# summary and figures, from the CSV alone (robustness/analysis/run_glue_test.py): `python -m robustness.analyze
# results/run_glue_test` redoes them with other analysis settings, without fine-tuning or measuring again
analyze(out_dir, config)
record_run(out_dir)
