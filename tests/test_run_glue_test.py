"""run_glue_test.py and robustness/glue.py: padding and pooling, metrics, CSV task, distraction,
the offline translation and paraphrase tasks, bad input, and an end-to-end run with tiny GPT-2 and BERT models."""

import collections
import json
import os
import random

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import ROOT, one_line_error, run_in_process, run_main, run_script
from families import bpe_tokenizer, wordpiece_tokenizer
from transformers import (AutoModelForSequenceClassification, AutoTokenizer, BertConfig, BertModel,
                          DataCollatorWithPadding, GPT2Config, GPT2LMHeadModel)

from robustness import glue
from robustness.analysis.schema import read_summary
from robustness.comparison import find
from robustness.corpora import english_verses
from robustness.analysis.run_glue_test import render as glue_section

VERSES = list(english_verses('web').values())[:400]


@pytest.fixture(scope='module')
def gpt2_dir(tmp_path_factory):
    """A 2-layer, 32-dim GPT-2 with a byte-level BPE tokenizer trained on 400 verses."""
    path = tmp_path_factory.mktemp('gpt2')
    tokenizer = bpe_tokenizer(VERSES)
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=len(tokenizer), n_positions=256, n_layer=2, n_embd=32, n_head=2,
                        bos_token_id=tokenizer.eos_token_id, eos_token_id=tokenizer.eos_token_id)
    GPT2LMHeadModel(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return str(path)


@pytest.fixture(scope='module')
def bert_dir(tmp_path_factory):
    """A 2-layer, 32-dim BERT with a WordPiece tokenizer trained on 400 verses."""
    path = tmp_path_factory.mktemp('bert')
    tokenizer = wordpiece_tokenizer(VERSES)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=256, pad_token_id=tokenizer.pad_token_id)
    BertModel(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return str(path)


def pair_split(n, seed=0):
    rng = random.Random(seed)
    return {'sentence1': [VERSES[rng.randrange(400)] for _ in range(n)],
            'sentence2': [VERSES[rng.randrange(400)][:rng.randrange(5, 80)] for _ in range(n)],
            'label': [rng.randrange(2) for _ in range(n)]}


def classifier(path):
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=2).eval()
    glue.set_padding(tokenizer, model)
    return tokenizer, model


def logits_in_batches(model, tokenizer, features, batch_size):
    collator = DataCollatorWithPadding(tokenizer)
    with torch.inference_mode():
        return torch.cat([model(**{k: v for k, v in collator(features[i:i + batch_size]).items() if k != 'labels'}).logits
                          for i in range(0, len(features), batch_size)])


@pytest.mark.parametrize('which', ['gpt2', 'bert'])
def test_padding_and_pooling_do_not_depend_on_the_batch(which, gpt2_dir, bert_dir):
    tokenizer, model = classifier(gpt2_dir if which == 'gpt2' else bert_dir)
    assert tokenizer.pad_token_id is not None and model.config.pad_token_id == tokenizer.pad_token_id
    features = glue.encode(tokenizer, pair_split(12), max_length=96)
    lengths = {len(f['input_ids']) for f in features}
    assert len(lengths) > 5  # batches of 12 really pad
    alone = logits_in_batches(model, tokenizer, features, 1)
    together = logits_in_batches(model, tokenizer, features, 12)
    torch.testing.assert_close(together, alone, atol=1e-5, rtol=1e-4)
    if which == 'gpt2':
        # the pair is separated by the end-of-text token, and the last token is real text
        assert tokenizer.eos_token_id in features[0]['input_ids'][:-1]
        # the check can fail: a config pad id that is not the tokenizer's makes GPT-2 pool pad positions
        model.config.pad_token_id = tokenizer.pad_token_id + 1
        wrong = logits_in_batches(model, tokenizer, features, 12)
        assert not torch.allclose(wrong, alone, atol=1e-3)


def test_batched_evaluation_matches_the_metrics(gpt2_dir):
    tokenizer, model = classifier(gpt2_dir)
    split = pair_split(40)
    features = glue.encode(tokenizer, split, max_length=96)
    collator = DataCollatorWithPadding(tokenizer)
    result = glue.evaluate(model, glue.batches(features, collator, 16, torch.device('cpu')), ('accuracy', 'f1'),
                           torch.device('cpu'))
    logits = logits_in_batches(model, tokenizer, features, 1)
    labels = torch.tensor(split['label'])
    assert result['loss'] == pytest.approx(torch.nn.functional.cross_entropy(logits, labels).item(), rel=1e-4)
    assert result['accuracy'] == pytest.approx((logits.argmax(-1) == labels).float().mean().item())


def test_metrics_per_task_type():
    assert glue.task_metrics('mrpc', 2) == ('accuracy', 'f1') == glue.task_metrics('qqp', 2)
    assert glue.task_metrics('cola', 2) == ('matthews',)
    assert glue.task_metrics('stsb', 1) == ('pearson', 'spearman')
    assert glue.task_metrics('rte', 2) == ('accuracy',) == glue.task_metrics('mnli', 3)
    assert glue.task_metrics('paraphrase', 2) == ('accuracy', 'f1')
    assert glue.GLUE_TASKS['mnli'][4] == 'validation_matched' and glue.GLUE_TASKS['stsb'][2] == 1
    labels, predictions = [1, 1, 1, 0, 0, 0], [1, 1, 0, 0, 0, 1]
    assert glue.score('accuracy', predictions, labels) == pytest.approx(4 / 6)
    assert glue.score('f1', predictions, labels) == pytest.approx(2 / 3)  # precision 2/3, recall 2/3
    assert glue.score('matthews', predictions, labels) == pytest.approx(1 / 3)  # (4-1)/sqrt(3*3*3*3)... = 1/3
    assert glue.score('matthews', [1, 0, 1, 0], [0, 1, 0, 1]) == pytest.approx(-1)
    targets = [0.0, 1.0, 2.0, 3.0, 4.0]
    assert glue.score('pearson', [0, 2, 4, 6, 8.5], targets) == pytest.approx(0.9988, abs=1e-3)
    assert glue.score('spearman', [0, 2, 4, 6, 8.5], targets) == pytest.approx(1.0)
    assert glue.score('pearson', [1.0] * 5, targets) == 0.0  # constant prediction: chance
    # the best constant predictor: the majority class for accuracy, always 1 for F1
    assert glue.floor('accuracy', [0, 1, 1, 1], False) == pytest.approx(0.75)
    assert glue.floor('accuracy', [0, 0, 2, 1, 0], False) == pytest.approx(0.6)
    assert glue.floor('f1', [0, 1, 1, 1], False) == pytest.approx(2 * 0.75 / 1.75)
    assert glue.floor('f1', [0, 0, 0, 1], False) == pytest.approx(2 * 0.25 / 1.25)
    assert glue.floor('matthews', [0, 0, 1], False) == 0.0
    assert glue.floor('pearson', targets, True) == 0.0
    assert glue.floor_loss([0, 1, 0, 1], False) == pytest.approx(np.log(2))
    assert glue.floor_loss(targets, True) == pytest.approx(2.0)


def test_glue_columns_labels_and_splits(monkeypatch):
    import datasets

    def fake_glue(path, task, cache_dir=None):  # the hub's nyu-mll/glue layout, two rows per split
        assert path == 'nyu-mll/glue'
        first, second, num_labels, _, validation = glue.GLUE_TASKS[task]
        def split(prefix):
            columns = {first: [f'{prefix} a', f'{prefix} b'], 'label': [3.8, 1.0] if num_labels == 1 else [1, 0]}
            if second:
                columns[second] = [f'{prefix} c', f'{prefix} d']
            return datasets.Dataset.from_dict(columns)
        return datasets.DatasetDict({'train': split('train'), validation: split('dev'), 'test': split('test')})

    monkeypatch.setattr(datasets, 'load_dataset', fake_glue)
    assert glue.load_glue('stsb')['validation'] == {'sentence1': ['dev a', 'dev b'], 'sentence2': ['dev c', 'dev d'],
                                                     'label': [3.8, 1.0]}
    mnli = glue.load_glue('mnli')
    assert mnli['validation']['sentence1'] == ['dev a', 'dev b'] and mnli['train']['sentence2'] == ['train c', 'train d']
    assert glue.load_glue('cola')['train'] == {'sentence1': ['train a', 'train b'], 'sentence2': None, 'label': [1, 0]}

    def offline(*args, **kwargs):
        raise ConnectionError("Couldn't reach 'nyu-mll/glue' on the Hub (OfflineModeIsEnabled)\nmore lines")
    monkeypatch.setattr(datasets, 'load_dataset', offline)
    with pytest.raises(ValueError, match=r'^task: cannot load GLUE rte .*task=csv') as error:
        glue.load_glue('rte')
    assert '\n' not in str(error.value)


def test_csv_task(tmp_path):
    path = tmp_path / 'train.csv'
    pd.DataFrame({'sentence1': ['a b', 'c, "d"'], 'sentence2': ['e', 'NA'], 'label': [1, 0]}).to_csv(path, index=False)
    assert glue.read_csv(str(path), 'train_file') == {'sentence1': ['a b', 'c, "d"'], 'sentence2': ['e', 'NA'],
                                                      'label': [1, 0]}
    single = tmp_path / 'single.csv'
    single.write_text('sentence1,label\nhello there,2\n')
    assert glue.read_csv(str(single), 'train_file') == {'sentence1': ['hello there'], 'sentence2': None, 'label': [2]}
    bad = {'no_label.csv': 'sentence1,sentence2\na,b\n', 'words.csv': 'sentence1,sentence2,label\na,b,yes\n',
           'half.csv': 'sentence1,sentence2,label\na,b,1\nc,d,0.5\n', 'empty.csv': 'sentence1,sentence2,label\n',
           'negative.csv': 'sentence1,sentence2,label\na,b,-1\n'}
    messages = {}
    for name, text in bad.items():
        (tmp_path / name).write_text(text)
        with pytest.raises(ValueError) as error:
            glue.read_csv(str(tmp_path / name), 'train_file')
        messages[name] = str(error.value)
        assert '\n' not in messages[name] and messages[name].startswith('train_file: ')
    assert 'no column label' in messages['no_label.csv']
    assert "label 'yes' is not an integer" in messages['words.csv'] and 'row 2' in messages['words.csv']
    assert "label '0.5'" in messages['half.csv'] and 'row 3' in messages['half.csv']
    assert 'no rows' in messages['empty.csv']
    with pytest.raises(ValueError, match='does not exist'):
        glue.read_csv(str(tmp_path / 'missing.csv'), 'validation_file')


def test_distraction_inserts_words_and_keeps_the_originals_in_order():
    rng = random.Random(0)
    words = ['ZZA', 'ZZB', 'ZZC']
    for text in VERSES[:50]:
        original = text.split()
        for level in (0.0, 0.02, 0.1, 0.3, 1.0):
            distracted = glue.insert_distractors(text, level, words, rng).split()
            assert len(distracted) - len(original) == int(level * len(original) + 0.5)
            kept = [w for w in distracted if w not in words]
            assert kept == original  # nothing lost, nothing reordered
    assert glue.insert_distractors('one two three', 0.0, words, rng) == 'one two three'
    split = {'sentence1': ['a b c d e f g h i j'] * 3, 'sentence2': ['k l m n o p q r s t'] * 3, 'label': [0, 1, 0]}
    distracted = glue.distract(split, 0.2, words, seed=1)
    assert all(len(t.split()) == 12 for t in distracted['sentence1'] + distracted['sentence2'])
    assert distracted == glue.distract(split, 0.2, words, seed=1) != glue.distract(split, 0.2, words, seed=2)
    assert distracted['label'] == split['label']
    assert glue.words_of({'sentence1': ["God's word, 12 times: light."], 'sentence2': None}) == \
        ["God's", 'light', 'times', 'word']


def test_paraphrase_pairs_are_balanced_and_split_by_book():
    data = glue.paraphrase_pairs(400, 100, seed=0)
    kjv, web = english_verses('kjv'), english_verses('web')
    verses_of = {}  # text -> the verse ids that have it (a few texts recur, "The LORD spoke to Moses, saying,")
    for version in (kjv, web):
        for v, text in version.items():
            verses_of.setdefault(text, set()).add(v)
    for name, size in (('train', 400), ('validation', 100)):
        split = data[name]
        assert len(split['label']) == size and sum(split['label']) == size // 2
        checked = 0
        for a, b, label in zip(split['sentence1'], split['sentence2'], split['label']):
            assert (a in kjv.values() and b in web.values()) or (a in web.values() and b in kjv.values())
            if len(verses_of[a]) == len(verses_of[b]) == 1:
                (va,), (vb,) = verses_of[a], verses_of[b]
                assert (va == vb) == (label == 1) and va // 1000 == vb // 1000  # same chapter
                assert (va // 1_000_000 in glue.DEFAULT_EVAL_BOOKS) == (name == 'validation')
                checked += 1
        assert checked > 0.9 * size
    train = set(data['train']['sentence1'] + data['train']['sentence2'])
    assert not train & set(data['validation']['sentence1'] + data['validation']['sentence2'])
    assert data == glue.paraphrase_pairs(400, 100, seed=0)
    with pytest.raises(ValueError, match='validation_size'):
        glue.paraphrase_pairs(10, 10**6)


def test_translation_verses_are_balanced_one_translation_per_verse_and_split_by_book():
    data = glue.translation_verses(400, 100, seed=0)
    kjv, web = english_verses('kjv'), english_verses('web')
    verse_of = {text: v for version in (kjv, web) for v, text in version.items()}
    only_kjv, only_web = set(kjv.values()) - set(web.values()), set(web.values()) - set(kjv.values())
    for name, size in (('train', 400), ('validation', 100)):
        split = data[name]
        assert split['sentence2'] is None and len(split['label']) == size and sum(split['label']) == size // 2
        for text, label in zip(split['sentence1'], split['label']):
            assert text in (kjv if label else web).values() and text not in (only_web if label else only_kjv)
            assert (verse_of[text] // 1_000_000 in glue.DEFAULT_EVAL_BOOKS) == (name == 'validation')
    texts = set(data['train']['sentence1'] + data['validation']['sentence1'])
    counts = collections.Counter([*kjv.values(), *web.values()])
    unique = [v for v in set(kjv) & set(web) if counts[kjv[v]] == counts[web[v]] == 1]  # texts that name their verse
    assert len(texts) == 500 and not any(kjv[v] in texts and web[v] in texts for v in unique)  # one translation each
    assert data == glue.translation_verses(400, 100, seed=0) != glue.translation_verses(400, 100, seed=1)
    with pytest.raises(ValueError, match='train_size'):
        glue.translation_verses(10**6, 10)


def test_end_to_end_with_tiny_models(tmp_path, gpt2_dir, bert_dir, monkeypatch):
    monkeypatch.setenv('OMP_NUM_THREADS', '1')  # 32-dim models gain nothing from threads; shared CI cores do lose
    out, visuals = tmp_path / 'out', tmp_path / 'visuals'
    args = [f'--models=gpt2={gpt2_dir},bert={bert_dir}', '--task=paraphrase', '--train_size=96', '--validation_size=48', '--epochs=2', '--lr=3e-3',
            '--batch_size=16', '--max_length=64', '--kinds=random_deletion,gaussian_noise,distraction',
            '--scope=attn,mlp', '--layer_sets=all,first', '--levels=0,0.5,1', '--noise_levels=0,0.3', '--repeats=2',
            '--distraction_levels=0,0.1,0.3', '--distraction_repeats=2', f'--out_dir={out}', f'--visuals_dir={visuals}']
    result = run_script('run_glue_test.py', *args)
    assert result.returncode == 0, result.stderr[-3000:]
    frame = pd.read_csv(out / 'glue.csv')
    # 2 models x (2 scopes x 2 layer sets x (1 + 2 + 1 deletion rows + 1 + 2 noise rows) + 1 + 2 x 2 distraction rows)
    # x 2 metrics: the intact model (level 0) and deletion of every weight (level 1) are measured once, others twice
    assert len(frame) == 2 * (2 * 2 * (4 + 3) + 5) * 2
    assert set(frame['metric']) == {'accuracy', 'f1'}
    assert set(frame['floor'][frame['metric'] == 'accuracy']) == {0.5}  # balanced classes
    assert np.allclose(frame['floor'][frame['metric'] == 'f1'], 2 / 3)  # always 'paraphrase'
    assert frame['value'].between(0, 1).all() and (frame['loss'] > 0).all() and (frame['examples'] == 48).all()
    for model, rows in frame.groupby('model'):
        intact = rows[rows['level'] == 0]
        assert intact.groupby('metric')['value'].nunique().eq(1).all()  # level 0 is the same model everywhere
        # deleting every attention weight changes the model's loss
        full = rows[(rows['kind'] == 'random_deletion') & (rows['level'] == 1) & (rows['scope'] == 'attn')]
        assert (full['loss'] != intact['loss'].iloc[0]).all()
        # scopes and layer selections reach perturb: different weights, different losses, the asked sparsity
        half = rows[(rows['kind'] == 'random_deletion') & (rows['level'] == 0.5)].set_index(['scope', 'layers', 'repeat', 'metric'])
        assert half['sparsity'].between(0.45, 0.55).all()
        # (a tiny classifier near chance barely moves, so some draws may tie; ignored settings would tie in every draw)
        assert (half.loc['attn']['loss'] != half.loc['mlp']['loss']).any()
        assert (half.xs('all', level='layers')['loss'] != half.xs('first', level='layers')['loss']).any()
        distracted = rows[(rows['kind'] == 'distraction') & (rows['level'] == 0.3)]
        assert (distracted['loss'] != intact['loss'].iloc[0]).all()
    summary = json.load(open(out / 'summary.json'))
    for model, rows in frame.groupby('model'):  # one classifier per model here: no training seed
        intact = rows[(rows['level'] == 0) & (rows['metric'] == 'accuracy')]['value'].iloc[0]
        assert summary['intact'][model] == {'': intact}
        assert f'| {model} | {intact:.3f} | {intact:.3f} |' in glue_section(summary)  # the report's table
    for kind in ('random_deletion', 'gaussian_noise', 'distraction'):
        assert (visuals / f'glue_paraphrase_{kind}.png').stat().st_size > 10_000
    for label in ('gpt2', 'bert'):
        assert (out / 'finetuned' / f'paraphrase_{label}' / 'config.json').is_file()
    assert '"task": "paraphrase"' in (out / 'config.json').read_text()
    for label in ('gpt2', 'bert'):  # the two models ran in processes of their own, one per core; each kept its output
        assert 'fine-tuning' in (out / 'logs' / f'{label}.out').read_text()
    assert not list(out.glob('glue.part*.csv'))  # their part files merged into glue.csv
    # a rerun (here in one process) reuses the fine-tuned models and adds no rows
    saved = {label: (out / 'finetuned' / f'paraphrase_{label}' / 'model.safetensors').stat().st_mtime_ns
             for label in ('gpt2', 'bert')}
    again = run_main(monkeypatch, 'run_glue_test.py', *args, '--jobs=1')
    assert again.returncode == 0, again.stderr[-3000:]
    assert saved == {label: (out / 'finetuned' / f'paraphrase_{label}' / 'model.safetensors').stat().st_mtime_ns
                     for label in ('gpt2', 'bert')}  # loaded, not fine-tuned again
    assert not list(out.glob('glue.part*.csv'))  # merged into glue.csv
    pd.testing.assert_frame_equal(pd.read_csv(out / 'glue.csv'), frame)


def test_family_folder_gives_one_classifier_per_training_seed(tmp_path, gpt2_dir, monkeypatch):
    import shutil
    for family in ('family', 'copy'):
        for seed in (3, 7):
            shutil.copytree(gpt2_dir, tmp_path / family / f'seed_{seed}')
    out = tmp_path / 'out'
    result = run_main(monkeypatch, 'run_glue_test.py', f'--models=gpt2={tmp_path / "family"},copy={tmp_path / "copy"}',
                        '--compare=copy:gpt2', '--jobs=1', '--train_size=32',
                        '--validation_size=16', '--epochs=1', '--batch_size=16', '--max_length=64',
                        '--kinds=random_deletion', '--scope=attn', '--layer_sets=all', '--levels=0,0.5', '--repeats=1',
                        f'--out_dir={out}', f'--visuals_dir={tmp_path / "v"}')
    assert result.returncode == 0, result.stderr[-3000:]
    frame = pd.read_csv(out / 'glue.csv')
    assert sorted(frame['train_seed'].unique()) == [3, 7] and set(frame['model']) == {'gpt2', 'copy'}
    assert len(frame) == 2 * 2 * 2 * 2  # models x seeds x levels x metrics (accuracy, f1)
    # the copy is the same model, fine-tuned with the same seed: no difference at all in any training seed
    entry = find(read_summary(out / 'summary.json')['comparisons'], a='copy', b='gpt2', kind='random_deletion',
                 scope='attn', layers='all')
    area = entry.measures['retained_area']
    assert entry.described['training_seeds'] == [2, 2] and area['a'] == area['b']
    if entry.p is not None:  # both classifiers have a range to lose: a difference of exactly 0 in every measure
        assert all(e['test']['estimate'] == 0 and e['ci'][0] <= 0 <= e['ci'][1] for e in entry.measures.values())
    assert all((out / 'finetuned' / f'translation_gpt2_seed{seed}' / 'config.json').is_file() for seed in (3, 7))


def test_deterministic_and_structural_kinds(tmp_path, gpt2_dir, bert_dir, monkeypatch):
    """repeats=3: a deterministic kind gets one row per level; head deletion, N:M and Wanda run on both layouts."""
    out = tmp_path / 'out'
    result = run_main(monkeypatch, 'run_glue_test.py', f'--models=gpt2={gpt2_dir},bert={bert_dir}', '--jobs=1', '--train_size=32',
                        '--validation_size=16', '--epochs=1', '--batch_size=16', '--max_length=32',
                        '--kinds=magnitude_pruning,head_deletion,nm_pruning,wanda_pruning', '--scope=attn',
                        '--layer_sets=all,last', '--levels=0,0.5,1', '--repeats=3', '--calibration_windows=4',
                        f'--out_dir={out}', f'--visuals_dir={tmp_path / "v"}')
    assert result.returncode == 0, result.stderr[-3000:]
    frame = pd.read_csv(out / 'glue.csv')
    frame = frame[frame['metric'] == 'accuracy']
    counts = frame.groupby(['model', 'kind', 'layers', 'level']).size()
    for (model, kind, layers, level), count in counts.items():
        assert count == (3 if kind == 'head_deletion' and level > 0 else 1), (model, kind, layers, level)
    summary = json.load(open(out / 'summary.json'))
    assert len(summary['half_failure_level']) == 2 * 4 * 2  # models x kinds x layer sets
    chance = frame['floor'].iloc[0]
    for half in summary['half_failure_level']:  # recomputed here from the CSV
        model, kind, layers = name = half['model'], half['kind'], half['layers']
        curve = frame[(frame['model'] == model) & (frame['kind'] == kind) & (frame['layers'] == layers)].groupby('level')['value'].mean()
        target = (curve.iloc[0] + chance) / 2
        below = [level for level, value in curve.items() if (value - target) * (1 if chance <= curve.iloc[0] else -1) <= 0]
        if not below:
            assert half['level'] is None
            continue
        upper = below[0]
        lower = max([level for level in curve.index if level < upper], default=upper)
        expected = upper if upper == lower else lower + (upper - lower) * (target - curve[lower]) / (curve[upper] - curve[lower])
        assert half['level'] == pytest.approx(expected, abs=1e-12), name
    heads = frame[(frame['kind'] == 'head_deletion') & (frame['level'] == 1)]
    assert (heads['sparsity'] == 1).all()  # every head of the output projections zeroed
    assert np.allclose(frame[(frame['kind'] == 'nm_pruning') & (frame['level'] == 0.5)]['sparsity'], 0.5)
    for kind in ('head_deletion', 'nm_pruning', 'wanda_pruning'):
        assert (tmp_path / 'v' / f'glue_translation_{kind}.png').is_file()
    bad = one_line_error(run_in_process(monkeypatch, 'run_glue_test.py', f'--models=gpt2={gpt2_dir}', '--kinds=head_deletion',
                                        '--scope=mlp', f'--out_dir={tmp_path / "bad"}'))
    assert 'no attention heads in scope mlp' in bad and not (tmp_path / 'bad').exists()


def test_head_deletion_config_is_valid(tmp_path, monkeypatch):
    """configs/glue_heads_mbert.py parses; offline it stops at the hub, in one line, before writing anything."""
    message = one_line_error(run_in_process(monkeypatch, 'run_glue_test.py', os.path.join(ROOT, 'configs/glue_heads_mbert.py'),
                                            f'--out_dir={tmp_path / "out"}'))
    assert 'bert-base-cased' in message and 'hf download' in message and not (tmp_path / 'out').exists()
