"""Sentence-pair (and single-sentence) classification data for run_glue_test.py.

Three sources, all returned in one shape, a split = {'sentence1': [str], 'sentence2': [str] or None,
'label': [int or float]}:
- GLUE through `datasets` (online, or from the local datasets cache),
- CSV files with `sentence1,sentence2,label` columns, as Hugging Face's run_glue takes them,
- two offline tasks from two English translations of the Bible (KJV and WEB): translation, which
  translation a verse comes from (one sentence, like SST-2), and paraphrase, whether two verses are the
  same verse in the two translations (a pair, like MRPC).

Also here: the GLUE metric of each task (scikit-learn / scipy), the score of the majority-class
predictor (the chance line), the distraction transform (random words inserted into a sentence), and the model side:
padding set up for GPT-2, tokenizing once into padded batches, batched evaluation.
"""

import os
import random
import re
from typing import NamedTuple

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from scipy.stats import pearsonr, spearmanr
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef

from robustness.config import fail
from robustness.corpora import DEFAULT_EVAL_BOOKS, book_of, english_verses
from robustness.hub import hub_reachable
from robustness.runtime import autocast

class GlueTask(NamedTuple):
    """A GLUE task: its text column(s) in the dataset, its labels (1: a regression), metrics and evaluation split."""
    first: str
    second: str | None
    num_labels: int
    metrics: tuple
    validation: str


GLUE_TASKS = {
    'cola': GlueTask('sentence', None, 2, ('matthews',), 'validation'),
    'sst2': GlueTask('sentence', None, 2, ('accuracy',), 'validation'),
    'mrpc': GlueTask('sentence1', 'sentence2', 2, ('accuracy', 'f1'), 'validation'),
    'qqp': GlueTask('question1', 'question2', 2, ('accuracy', 'f1'), 'validation'),
    'stsb': GlueTask('sentence1', 'sentence2', 1, ('pearson', 'spearman'), 'validation'),
    'mnli': GlueTask('premise', 'hypothesis', 3, ('accuracy',), 'validation_matched'),
    'qnli': GlueTask('question', 'sentence', 2, ('accuracy',), 'validation'),
    'rte': GlueTask('sentence1', 'sentence2', 2, ('accuracy',), 'validation'),
    'wnli': GlueTask('sentence1', 'sentence2', 2, ('accuracy',), 'validation'),
}
OFFLINE_TASKS = ('translation', 'paraphrase')  # KJV or WEB for one verse; the same verse or not for a pair
TASKS = (*OFFLINE_TASKS, 'csv', *GLUE_TASKS)


def task_metrics(task, num_labels):
    """The metrics reported for a task: GLUE's own, MRPC's for the paraphrase task, and accuracy
    (plus F1 of class 1 when binary) for a CSV task."""
    if task in GLUE_TASKS:
        return GLUE_TASKS[task].metrics
    return ('accuracy', 'f1') if num_labels == 2 else ('accuracy',)


def score(metric, predictions, labels):
    """One GLUE metric. Predictions are class ids, or real numbers for regression (STS-B).
    Correlations of a constant prediction are undefined: they count as 0 (chance)."""
    predictions, labels = np.asarray(predictions), np.asarray(labels)
    if metric == 'accuracy':
        return float(accuracy_score(labels, predictions))
    if metric == 'f1':  # of the positive class, as GLUE reports it for MRPC and QQP
        return float(f1_score(labels, predictions, zero_division=0.0))
    if metric == 'matthews':
        return float(matthews_corrcoef(labels, predictions))
    if metric in ('pearson', 'spearman'):
        if np.ptp(predictions) == 0 or np.ptp(labels) == 0:
            return 0.0
        return float((pearsonr if metric == 'pearson' else spearmanr)(predictions, labels)[0])
    fail(f'unknown metric {metric!r}')


def floor(metric, labels, regression):
    """The chance line: the best score of a constant prediction. For accuracy that is the majority
    class; for F1, always class 1; for Matthews and the correlations, 0."""
    labels = np.asarray(labels)
    if regression:
        return score(metric, np.full(len(labels), labels.mean()), labels)
    return max(score(metric, np.full(len(labels), value), labels) for value in np.unique(labels))


def floor_loss(labels, regression):
    """The eval loss of the best constant predictor: the entropy of the label frequencies (nats), or
    the variance of the targets for regression."""
    labels = np.asarray(labels)
    if regression:
        return float(labels.var())
    frequencies = np.unique(labels, return_counts=True)[1] / len(labels)
    return float(-(frequencies * np.log(frequencies)).sum())


def load_glue(task, cache_dir=None):
    """{'train': split, 'validation': split} of a GLUE task from the hub (nyu-mll/glue) or the local
    datasets cache. Raises ValueError with a one-line message when it cannot be loaded."""
    import datasets  # slow to import; only the GLUE path needs it
    first, second, num_labels, _, validation = GLUE_TASKS[task]  # a GlueTask
    try:
        hub_reachable()  # offline: the cache at once, no retries
        glue = datasets.load_dataset('nyu-mll/glue', task, cache_dir=cache_dir)
    except Exception as error:  # offline, hub down, ...: datasets raises many kinds
        fail(f"task: cannot load GLUE {task} from the Hugging Face hub "
                         f"({type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}); "
                         f"run where there is a network, or use task={' or task='.join(OFFLINE_TASKS)} (offline) or "
                         f"task=csv with train_file/validation_file")
    dtype = float if num_labels == 1 else int
    return {name: {'sentence1': list(glue[split][first]),
                   'sentence2': list(glue[split][second]) if second else None,
                   'label': [dtype(label) for label in glue[split]['label']]}
            for name, split in (('train', 'train'), ('validation', validation))}


def read_csv(path, setting):
    """A split from a CSV file with columns sentence1, label and optionally sentence2 (single-sentence
    tasks), as run_glue reads them. Labels must be integers >= 0. ValueError (one line) otherwise."""
    if not os.path.isfile(path):
        fail(f'{setting}: {path} does not exist')
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)  # labels checked as written
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        fail(f'{setting}: cannot read {path} as CSV ({str(error).splitlines()[0]})')
    missing = [c for c in ('sentence1', 'label') if c not in frame.columns]
    if missing:
        fail(f"{setting}: {path} has no column {', '.join(missing)} "
                         f"(columns: {', '.join(map(str, frame.columns))}; need sentence1,sentence2,label)")
    if frame.empty:
        fail(f'{setting}: {path} has no rows')
    labels = pd.to_numeric(frame['label'], errors='coerce')
    bad = frame['label'][labels.isna() | (labels != labels.round()) | (labels < 0)]
    if len(bad):
        fail(f"{setting}: {path} row {bad.index[0] + 2}: label {bad.iloc[0]!r} is not an integer >= 0")
    return {'sentence1': frame['sentence1'].tolist(),
            'sentence2': frame['sentence2'].tolist() if 'sentence2' in frame.columns else None,
            'label': labels.astype(int).tolist()}


def both_translations():
    """(KJV verses, WEB verses, the ids of the verses both have, sorted)."""
    kjv, web = english_verses('kjv'), english_verses('web')
    return kjv, web, sorted(set(kjv) & set(web))


def held_out_split(verses, name, size, validation_books):
    """The verses a split draws its `size` examples from: those of `validation_books` (held out of the language
    models' training too) for 'validation', the others for 'train'. ValueError when they are fewer than `size`."""
    in_split = [v for v in verses if (book_of(v) in validation_books) == (name == 'validation')]
    if size > len(in_split):
        fail(f'{name}_size: {size} asked for, but its books have only {len(in_split)} verses')
    return in_split


def balanced_labels(size, rng):
    """`size` labels in random order, half 1 and half 0 (the extra one 0)."""
    labels = [1] * (size // 2) + [0] * (size - size // 2)
    rng.shuffle(labels)
    return labels


def translation_verses(train_size, validation_size, seed=0, validation_books=DEFAULT_EVAL_BOOKS):
    """The offline translation task, {'train': split, 'validation': split}, classes balanced: one verse, from the
    King James Version (label 1) or from the World English Bible (label 0). Each chosen verse is shown in one
    translation only, so no example has its own translation elsewhere in the data. The cues are the translations'
    words and style (thee, hath, -eth against modern English). Splits by book as `paraphrase_pairs` does."""
    kjv, web, common = both_translations()
    rng = random.Random(seed)
    splits = {}
    for name, size in (('train', train_size), ('validation', validation_size)):
        in_split = held_out_split(common, name, size, validation_books)
        labels = balanced_labels(size, rng)
        verses = rng.sample(in_split, size)
        splits[name] = {'sentence1': [(kjv if label else web)[v] for v, label in zip(verses, labels)],
                        'sentence2': None, 'label': labels}
    return splits


NEGATIVES = ('same_chapter', 'other_chapter')


def paraphrase_pairs(train_size, validation_size, seed=0, validation_books=DEFAULT_EVAL_BOOKS,
                     negatives='same_chapter'):
    """The offline paraphrase task, {'train': split, 'validation': split}, classes balanced.

    For each chosen verse, a pair is either the verse in the King James Version and in the World
    English Bible (label 1), or the verse in one of them and another verse in the other (label 0).
    The other verse comes from the same chapter (`negatives='same_chapter'`: same names and topic, the
    harder task) or from another chapter of the split (`'other_chapter'`: among 64 random candidates),
    and it is the one closest in word count to the verse's own translation (then the nearest), so that
    the length difference within a pair does not give the label away. Which translation comes first is
    random, so the translation style says nothing about the label. Validation verses come from
    `validation_books` (the books held out of the language models' training too), training verses from
    the others: no verse, and no negative, is in both splits.
    """
    if negatives not in NEGATIVES:
        fail(f"negatives: unknown value {negatives!r}; valid: {', '.join(NEGATIVES)}")
    kjv, web, common = both_translations()
    chapter_verses = {}  # chapter (BBBCCC) -> its verses in both translations, in order
    for v in common:
        chapter_verses.setdefault(v // 1000, []).append(v)
    rng = random.Random(seed)
    splits = {}
    for name, size in (('train', train_size), ('validation', validation_size)):
        in_split = held_out_split(common, name, size, validation_books)
        anchors = rng.sample(in_split, size)
        labels = balanced_labels(size, rng)
        split = {'sentence1': [], 'sentence2': [], 'label': labels}
        for verse, label in zip(anchors, labels):
            first, second = (kjv, web) if rng.random() < 0.5 else (web, kjv)
            other = verse
            if label == 0:  # every chapter has at least two verses
                length = len(second[verse].split())
                if negatives == 'same_chapter':
                    candidates = [v for v in chapter_verses[verse // 1000] if v != verse]
                else:
                    candidates = []
                    while not candidates:  # the split's books have many chapters: one sample almost always does
                        candidates = [v for v in rng.sample(in_split, 64) if v // 1000 != verse // 1000]
                other = min(candidates, key=lambda v: (abs(len(second[v].split()) - length), abs(v - verse)))
            split['sentence1'].append(first[verse])
            split['sentence2'].append(second[other])
        splits[name] = split
    return splits


def words_of(split):
    """The distinct words (letters and apostrophes) of a split's sentences, sorted: the word list that
    distractors are drawn from."""
    texts = split['sentence1'] + (split['sentence2'] or [])
    return sorted({word for text in texts for word in re.findall(r"[^\W\d_]+(?:'[^\W\d_]+)*", text)})


def insert_distractors(text, level, words, rng):
    """`text` with round(level * its word count) random words from `words` inserted at random places
    between its words; the original words stay, in order. `rng` is a random.Random."""
    original = text.split()
    count = int(level * len(original) + 0.5)
    # where each inserted word goes: before original word i (i = len means at the end)
    slots = sorted(rng.randrange(len(original) + 1) for _ in range(count))
    out, s = [], 0
    for i in range(len(original) + 1):
        while s < count and slots[s] == i:
            out.append(rng.choice(words))
            s += 1
        if i < len(original):
            out.append(original[i])
    return ' '.join(out)


def distract(split, level, words, seed):
    """A copy of `split` with distractors inserted into every sentence (both sentences of a pair)."""
    rng = random.Random(seed)
    return {'sentence1': [insert_distractors(t, level, words, rng) for t in split['sentence1']],
            'sentence2': [insert_distractors(t, level, words, rng) for t in split['sentence2']]
            if split['sentence2'] is not None else None,
            'label': split['label']}


def set_padding(tokenizer, model):
    """Give the tokenizer a pad token if it has none (GPT-2: its end-of-text token) and the model the
    same pad token id: GPT-2's classifier pools the last token that is not the config's pad token,
    so the two must agree or padded rows read a pad position."""
    if tokenizer.pad_token is None:
        if tokenizer.eos_token is not None:
            tokenizer.pad_token = tokenizer.eos_token
        else:
            tokenizer.add_special_tokens({'pad_token': '<pad>'})
            model.resize_token_embeddings(len(tokenizer))
    model.config.pad_token_id = tokenizer.pad_token_id


def encode(tokenizer, split, max_length):
    """Tokenize a split once: a list of features {input_ids, attention_mask, ..., labels}.

    Encoders (BERT, XLM) join a pair with their own template ([CLS] a [SEP] b [SEP]). A tokenizer
    without one (GPT-2) would run the two sentences together, so a separator token (its end-of-text
    token) goes between them; the classifier still reads the last real token, at the end.
    """
    first, second = split['sentence1'], split['sentence2']
    if second is not None and tokenizer.num_special_tokens_to_add(pair=True) == 0:
        separator = tokenizer.sep_token or tokenizer.eos_token or '\n'
        first = [text + separator for text in first]
    encoded = tokenizer(first, second, truncation=True, max_length=max_length)
    return [{**{name: values[i] for name, values in encoded.items()}, 'labels': label}
            for i, label in enumerate(split['label'])]


def batches(features, collator, batch_size, device):
    """Padded evaluation batches on `device`, built once: features sorted by length so that each batch
    pads little (predictions come back in this order, with their labels)."""
    order = sorted(range(len(features)), key=lambda i: len(features[i]['input_ids']))
    return [{name: tensor.to(device)
             for name, tensor in collator([features[i] for i in order[start:start + batch_size]]).items()}
            for start in range(0, len(order), batch_size)]


@torch.inference_mode()
def evaluate(model, eval_batches, metrics, device):
    """Mean loss (cross-entropy, or squared error for regression) and every metric of `metrics` over
    the batches: {'loss': float, metric: float, ...}."""
    regression = model.config.num_labels == 1
    total_loss, predictions, labels = 0.0, [], []
    for batch in eval_batches:
        inputs = {name: tensor for name, tensor in batch.items() if name != 'labels'}
        with autocast(device):
            logits = model(**inputs).logits.float()
        if regression:
            total_loss += F.mse_loss(logits.squeeze(-1), batch['labels'].float(), reduction='sum').item()
            predictions.append(logits.squeeze(-1).cpu())
        else:
            total_loss += F.cross_entropy(logits, batch['labels'], reduction='sum').item()
            predictions.append(logits.argmax(-1).cpu())
        labels.append(batch['labels'].cpu())
    predictions, labels = torch.cat(predictions).numpy(), torch.cat(labels).numpy()
    return dict(loss=total_loss / len(labels), **{metric: score(metric, predictions, labels) for metric in metrics})
