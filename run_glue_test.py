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

import json
import os
import time

import torch
from tqdm import tqdm
from transformers import (AutoModelForSequenceClassification, AutoTokenizer, DataCollatorWithPadding,
                          get_linear_schedule_with_warmup)

from robustness import glue
from robustness.analysis.run_glue_test import TABLE, analyze
from robustness.checkpoints import check_vocabulary, expand_families, load_config, load_model, load_tokenizer
from robustness.config import check, check_choices, check_range, configure, save_config
from robustness.lock import claim
from robustness.perturb import KINDS, SCOPES, kind_options, num_layers
from robustness.processes import run_units
from robustness.provenance import record_run
from robustness.runtime import autocast, parse_models, parse_pairs, seed_everything, setup
from robustness.stats import check_margin
from robustness.sweep import (Trial, check_grids, check_kinds, merge_parts, open_log, pending, run_trials,
                              token_windows, trial_grid)

# -----------------------------------------------------------------------------
# models and task
models = ('monolingual=results/train_bilingual_gpt2/monolingual,'
          'bilingual=results/train_bilingual_gpt2/bilingual')  # comma-separated label=path: HF dir, family folder of seed_<s>/ models or hub name, or a GPT-2 state-dict file (.pth, .pt, .bin, .safetensors); add control=results/train_bilingual_gpt2/control for the control (minutes more on 2 cores: bench/RESULTS.md)
tokenizers = ''  # label=folder,...: tokenizer of a state-dict entry (vocab.json + merges.txt, or tokenizer.json); default: the file's folder
n_head = 0  # attention heads of state-dict entries (0 = width / 64, GPT-2's convention)
task = 'translation'  # translation (offline: KJV or WEB for one verse) | paraphrase (offline: KJV/WEB verse pairs) | csv | cola | sst2 | mrpc | qqp | stsb | mnli | qnli | rte | wnli
train_file = ''  # task=csv: CSV with columns sentence1,sentence2,label (sentence2 optional)
validation_file = ''  # task=csv: the same for the evaluation split
train_size = 8000  # offline tasks: training verses (translation) or pairs (paraphrase), half of each class, from the books not held out
negatives = 'other_chapter'  # task=paraphrase: non-paraphrases pair a verse with one of another chapter | same_chapter (harder)
validation_size = 400  # offline tasks: evaluation verses or pairs, from the held-out books (Ruth, Ecclesiastes, Jonah, Luke, Romans)
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
kinds = ['random_deletion', 'magnitude_pruning', 'gaussian_noise', 'distraction']  # robustness.perturb kinds (global_magnitude_pruning, neuron_deletion, head_deletion, nm_pruning, wanda_pruning too; left out of the default for the CPU budget) and distraction (random words in the inputs)
scope = ['attn']  # weights damaged: attn | mlp | blocks | all (several: a list)
layer_sets = ['all']  # blocks damaged: all | first | middle (blocks L/2 .. L/2+L/3-1, 6-9 of 12) | last
levels = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]  # fractions deleted/pruned, every kind but gaussian_noise, to failure (the article: 0..1 in steps of 0.01)
noise_levels = [0.0, 0.02, 0.035, 0.05, 0.075, 0.1, 0.15]  # gaussian_noise std (the default GPT-2s' weights have std ~0.02; the grid goes past the default classifiers' half-failure level)
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
compare = ['bilingual:monolingual', 'bilingual:control']  # a:b pairs compared in summary.json (a - b); pairs with a missing label are skipped
equivalence_margin = 0.05  # verdict "equivalent" when the corrected interval of the difference in retained area lies within +- this
bootstrap = 2000  # bootstrap resamples (training seeds, then repeats) for the secondary statistics' intervals
failure_fraction = 0.5  # half-failure level (description): the damage at which the metric has gone this far from intact to chance
device = 'auto'  # auto | cpu | cuda
jobs = 0  # CPU: models (each model x training seed) fine-tuned and swept at once, one process and one thread each (0 = as many as cores)
out_dir = 'results/run_glue_test'  # glue.csv, config.json and the fine-tuned models (finetuned/<task>_<label>[_seed<s>]/)
visuals_dir = 'visuals'  # figures
# -----------------------------------------------------------------------------
config = configure(globals(), renamed={'train_pairs': 'train_size', 'validation_pairs': 'validation_size'})

# settings, checked before any work
check_choices('task', task, glue.TASKS)
check(0 < failure_fraction < 1, f'failure_fraction: {failure_fraction} must lie in (0, 1)')
check_margin(equivalence_margin)
check_choices('negatives', negatives, glue.NEGATIVES)
check(scope, 'scope: no scope given')
check_choices('scope', scope, SCOPES)
check(kinds, 'kinds: no kind given')
check_choices('kinds', kinds, [*KINDS, 'distraction'])
check(layer_sets, 'layer_sets: none given')
check_choices('layer_sets', layer_sets, ('all', 'first', 'middle', 'last'))
check_range('levels', levels, 0.0, 1.0)
check_range('noise_levels', noise_levels, 0.0)
damage_kinds = [kind for kind in kinds if kind != 'distraction']
grids = {'levels': levels, 'noise_levels': noise_levels}
check_grids(damage_kinds, grids)
check_range('nm_group', nm_group, 1)
check_range('calibration_windows', calibration_windows, 1)
check(not calibration_file or os.path.isfile(calibration_file), f'calibration_file: {calibration_file} does not exist')
check_range('distraction_levels', distraction_levels, 0.0)
for name in ('repeats', 'distraction_repeats', 'epochs', 'batch_size', 'eval_batch_size', 'max_length'):
    check_range(name, globals()[name], 1)
check_range('jobs', jobs, 0)
check_range('bootstrap', bootstrap, 1)
check_range('train_size', train_size, 2)
check_range('validation_size', validation_size, 2)
check_range('max_train_examples', max_train_examples, 0)
check_range('max_eval_examples', max_eval_examples, 0)
check(lr > 0, f'lr: {lr} must be positive')
check_range('warmup', warmup, 0.0, 1.0)
if task == 'csv':
    check(train_file and validation_file, 'task=csv needs --train_file and --validation_file')
check(not distractor_file or os.path.isfile(distractor_file), f'distractor_file: {distractor_file} does not exist')
def layer_indices(name, n_layers):
    """Block indices of a layer selection; None = every block."""
    if name == 'all':
        return None
    if name == 'first':
        return [0]
    if name == 'last':
        return [n_layers - 1]
    return list(range(n_layers // 2, min(n_layers, n_layers // 2 + max(1, n_layers // 3))))  # middle


model_specs = parse_models(models)
parse_pairs(compare, [label for label, _ in model_specs])  # the pairs' form, checked before any work
tokenizer_dirs = dict(parse_models(tokenizers, 'tokenizers')) if tokenizers.strip() else {}
for label in tokenizer_dirs:
    check(label in dict(model_specs), f"tokenizers: {label!r} is not a label of models ({', '.join(dict(model_specs))})")
check_range('n_head', n_head, 0)
# A family folder of seed_<s>/ models (train_bilingual_gpt2.py) gives one unit per training seed ('' for a single model).
units = expand_families(model_specs)
for label, train_seed, path in units:  # a missing dir or file, or a bad state dict or tokenizer, fails here, before any work
    model_config = load_config(path, 'models', n_head)
    check_vocabulary(load_tokenizer(path, 'models', tokenizer_dirs.get(label, '')), model_config, label)
    positions = getattr(model_config, 'max_position_embeddings', None)
    check(positions is None or max_length <= positions,
          f'max_length: {max_length} is more than model {label} takes ({positions} positions)')
    check_kinds(model_config, AutoModelForSequenceClassification, damage_kinds, scope,
                [layer_indices(layers_name, model_config.num_hidden_layers) for layers_name in layer_sets], grids,
                nm_group, label)
runtime = setup(device)
print(f'models: {", ".join(label for label, _ in model_specs)}; task {task}; device {runtime.device}')

# data: {'train': split, 'validation': split}, split = {'sentence1': [...], 'sentence2': [...] or None, 'label': [...]}
if task == 'translation':
    data = glue.translation_verses(train_size, validation_size, seed=seed)
elif task == 'paraphrase':
    data = glue.paraphrase_pairs(train_size, validation_size, seed=seed, negatives=negatives)
elif task == 'csv':
    data = {'train': glue.read_csv(train_file, 'train_file'), 'validation': glue.read_csv(validation_file, 'validation_file')}
else:
    data = glue.load_glue(task)
for name, limit in (('train', max_train_examples), ('validation', max_eval_examples)):
    if limit and task not in glue.OFFLINE_TASKS:
        data[name] = {column: values[:limit] if values is not None else None for column, values in data[name].items()}
    check(data[name]['label'], f'{name} split of task {task} is empty')
if task in glue.GLUE_TASKS:
    num_labels = glue.GLUE_TASKS[task][2]
else:
    num_labels = max(data['train']['label'] + data['validation']['label']) + 1
    check(num_labels >= 2, f'task {task}: the labels have only one class')
regression = num_labels == 1
metrics = glue.task_metrics(task, num_labels)
validation_labels = data['validation']['label']
floors = {metric: glue.floor(metric, validation_labels, regression) for metric in metrics}
floors['loss'] = glue.floor_loss(validation_labels, regression)
if distractor_file:
    distractor_words = [w.strip() for w in open(distractor_file, encoding='utf-8') if w.strip()]
    check(distractor_words, f'distractor_file: {distractor_file} has no words')
else:
    distractor_words = glue.words_of(data['train'])
print(f"train {len(data['train']['label'])} examples, validation {len(validation_labels)}; "
      f"best constant predictor (majority class for accuracy): {', '.join(f'{m} {v:.3f}' for m, v in floors.items())}")

claim(out_dir)
save_config(config, os.path.join(out_dir, 'config.json'))
with open(os.path.join(out_dir, 'floors.json'), 'w') as f:  # the analysis's floors: metrics first, then the loss
    json.dump(floors, f, indent=2)


def unit_name(label, train_seed):
    return label + (f'_seed{train_seed}' if train_seed != '' else '')


def calibration_tokens(tokenizer, sweep, task_data):
    """Wanda's calibration: `calibration_windows` windows of max_length tokens of calibration_file, or of the
    training sentences (never the evaluation split)."""
    window = sweep['max_length']
    if sweep['calibration_file']:
        text = open(sweep['calibration_file'], encoding='utf-8').read(sweep['calibration_windows'] * window * 16)
    else:
        train_split = task_data['data']['train']
        text = ' '.join(s for column in ('sentence1', 'sentence2') for s in (train_split[column] or [])[:20000])
    return token_windows(tokenizer(text, add_special_tokens=False)['input_ids'], sweep['calibration_windows'], window,
                         'calibration_file')


def measured(logs, **key):
    return any(results.has(**key) for results in logs)


def write(log, logs, unit, trial, result, sparsity, task_data):
    """The rows of one measurement (a row per metric) of `unit` ({'model', 'train_seed'}) under `trial` (a Trial)."""
    for metric in task_data['metrics']:
        key = dict(**unit, task=task_data['name'], **trial._asdict(), metric=metric)
        if measured(logs, **key):
            continue  # written before an interruption between the metrics of one measurement
        log.write(dict(**key, value=result[metric], floor=task_data['floors'][metric], loss=result['loss'],
                       sparsity=sparsity, examples=len(task_data['data']['validation']['label'])))


def classifier(label, train_seed, path, task_data, finetuning, out_dir, device):
    """(tokenizer, classifier) of one model and training seed, fine-tuned on the task once and saved; a rerun loads
    the saved classifier. `finetuning`: the tokenizer folder and heads of a state-dict entry, and the optimizer
    settings (epochs, batch_size, lr, weight_decay, warmup, grad_clip, max_length, seed)."""
    seed_everything(finetuning['seed'])
    task, name = task_data['name'], unit_name(label, train_seed)
    finetuned_dir = os.path.join(out_dir, 'finetuned', f'{task}_{name}')
    if os.path.isfile(os.path.join(finetuned_dir, 'config.json')):
        print(f'{name}: loading the fine-tuned classifier from {finetuned_dir}')
        tokenizer = AutoTokenizer.from_pretrained(finetuned_dir)
        model = AutoModelForSequenceClassification.from_pretrained(finetuned_dir).to(device)
    else:
        tokenizer = load_tokenizer(path, 'models', finetuning['tokenizer_dir'])
        model = load_model(AutoModelForSequenceClassification, path, 'models', finetuning['n_head'],
                           num_labels=task_data['num_labels'],
                           problem_type='regression' if task_data['regression'] else 'single_label_classification')
        glue.set_padding(tokenizer, model)
        model.to(device).train()
        collator = DataCollatorWithPadding(tokenizer)  # pads each batch to its longest example
        train_features = glue.encode(tokenizer, task_data['data']['train'], finetuning['max_length'])
        loader = torch.utils.data.DataLoader(train_features, batch_size=finetuning['batch_size'], shuffle=True,
                                             collate_fn=collator,
                                             generator=torch.Generator().manual_seed(finetuning['seed']))
        optimizer = torch.optim.AdamW(model.parameters(), lr=finetuning['lr'], weight_decay=finetuning['weight_decay'])
        steps = finetuning['epochs'] * len(loader)
        scheduler = get_linear_schedule_with_warmup(optimizer, int(finetuning['warmup'] * steps), steps)
        progress = tqdm(total=steps, desc=f'fine-tuning {name} on {task}')
        for epoch in range(finetuning['epochs']):
            for batch in loader:
                batch = {key: tensor.to(device) for key, tensor in batch.items()}
                with autocast(device):
                    loss = model(**batch).loss
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), finetuning['grad_clip'])
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                progress.update()
                progress.set_postfix(epoch=epoch, loss=f'{loss.item():.3f}')
        progress.close()
        model.save_pretrained(finetuned_dir)
        tokenizer.save_pretrained(finetuned_dir)
        print(f'{name}: saved the fine-tuned classifier to {finetuned_dir}')
    check(tokenizer.pad_token_id == model.config.pad_token_id, f'models: {name}: tokenizer and config pad tokens differ')
    return tokenizer, model.eval()


def measure(label, train_seed, path, task_data, finetuning, sweep, out_dir, device, part=None):
    """Fine-tune (or load) the classifier of one model and training seed, then measure every damage and distraction
    trial that no log holds yet: into glue.csv, or into its part file `part` (a process of its own). `task_data`: the
    task's name, splits, metrics, their floors, labels and distractor words; `sweep`: the trials, the damage seed, the
    kinds and the N:M group, the evaluation batches, Wanda's calibration and the distraction grid."""
    log, logs = open_log(out_dir, TABLE, part=part)
    name = label + (f' seed {train_seed}' if train_seed != '' else '')
    unit = dict(model=label, train_seed=train_seed)
    metrics, floors, validation = task_data['metrics'], task_data['floors'], task_data['data']['validation']
    tokenizer, model = classifier(label, train_seed, path, task_data, finetuning, out_dir, device)
    collator = DataCollatorWithPadding(tokenizer)
    batches_of = lambda split: glue.batches(glue.encode(tokenizer, split, sweep['max_length']), collator,
                                            sweep['eval_batch_size'], device)
    eval_batches = batches_of(validation)
    n_layers = num_layers(model)

    start = time.perf_counter()
    intact = glue.evaluate(model, eval_batches, metrics, device)
    intact_seconds = time.perf_counter() - start
    print(f'{name}: intact: ' + ', '.join(f'{m} {intact[m]:.4f} (constant predictor {floors[m]:.4f})' for m in metrics)
          + f", loss {intact['loss']:.4f}; {len(validation['label']) / intact_seconds:.0f} examples/s")

    # weight damage: every (kind, scope, layers, level, repeat) not yet in glue.csv; level 0 is the intact model
    todo = pending(sweep['trials'], logs, lambda t: dict(**unit, task=task_data['name'], **t._asdict(), metric=metrics[-1]))
    calibration = calibration_tokens(tokenizer, sweep, task_data) if 'wanda_pruning' in sweep['kinds'] else None
    timing = []

    def score(trial):
        start = time.perf_counter()
        result = glue.evaluate(model, eval_batches, metrics, device)
        timing.append(time.perf_counter() - start)
        return result

    def record(trial, result, sparsity, seconds):
        write(log, logs, unit, trial, result, sparsity, task_data)

    started = time.perf_counter()
    options = {kind: kind_options(kind, sweep['nm_group'], calibration) for kind in sweep['kinds']}
    run_trials(model, todo, score, record, sweep['seed'], layers_of=lambda trial: layer_indices(trial.layers, n_layers),
               options=options, desc=f'damage {name}', intact=intact)
    if timing:
        eval_seconds, damage_seconds = sum(timing), time.perf_counter() - started - sum(timing)
        examples = len(validation['label'])
        print(f'{name}: {len(timing)} damaged evaluations: {len(timing) * examples / eval_seconds:.0f} '
              f'examples/s in the evaluations ({examples / intact_seconds:.0f} intact); '
              f'damaging and restoring the weights took {damage_seconds:.1f} s, '
              f'{100 * damage_seconds / eval_seconds:.1f}% of the {eval_seconds:.1f} s of evaluation')

    # distraction: random words from the word list inserted into every sentence
    for level, repeat in tqdm(sweep['distraction'], desc=f'distraction {name}'):
        trial = Trial('distraction', 'inputs', 'none', level, repeat)
        if measured(logs, **unit, task=task_data['name'], **trial._asdict(), metric=metrics[-1]):
            continue
        if level == 0:
            result = intact
        else:
            distracted = glue.distract(validation, level, task_data['distractor_words'], seed=sweep['seed'] + repeat)
            result = glue.evaluate(model, batches_of(distracted), metrics, device)
        write(log, logs, unit, trial, result, 0.0, task_data)
    print(f'{name}: done')


# what every classifier shares: the task, the fine-tuning recipe, the sweep
task_data = dict(name=task, data=data, metrics=metrics, floors=floors, num_labels=num_labels, regression=regression,
                 distractor_words=distractor_words)
finetuning = dict(epochs=epochs, batch_size=batch_size, lr=lr, weight_decay=weight_decay, warmup=warmup,
                  grad_clip=grad_clip, max_length=max_length, seed=seed, n_head=n_head)
sweep = dict(trials=trial_grid(damage_kinds, scope, layer_sets, grids, repeats), seed=seed, kinds=damage_kinds,
             nm_group=nm_group, max_length=max_length, eval_batch_size=eval_batch_size, calibration_file=calibration_file,
             calibration_windows=calibration_windows,
             distraction=[(level, repeat) for level in distraction_levels
                          for repeat in range(1 if level == 0 else distraction_repeats)] if 'distraction' in kinds else [])
# on a CPU each model in a single-thread process of its own, into a part file
run_units(measure, [(unit_name(label, train_seed),
                     (label, train_seed, path, task_data, dict(finetuning, tokenizer_dir=tokenizer_dirs.get(label, '')),
                      sweep, out_dir, runtime.device)) for label, train_seed, path in units],
          min(len(units), jobs or os.cpu_count() or 1), os.path.join(out_dir, 'logs'), 'models',
          parallel=runtime.device.type == 'cpu', parts=True)
merge_parts(out_dir, TABLE)

# summary and figures, from the CSV alone (robustness/analysis/run_glue_test.py): `python -m robustness.analyze
# results/run_glue_test` redoes them with other analysis settings, without fine-tuning or measuring again
analyze(out_dir, config)
record_run(out_dir)
