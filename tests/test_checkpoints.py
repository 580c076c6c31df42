"""State-dict files in the paper authors' release format (robustness/checkpoints.py) through test_gpt2.py and
run_glue_test.py: the same weights as a Hugging Face folder give the same numbers; bad files are one-line errors."""

import json
import os

import pandas as pd
import pytest
import torch
from tokenizers import ByteLevelBPETokenizer
from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, GPT2TokenizerFast

from conftest import ROOT, one_line_error, run_in_process, run_main
from gpt2_fixtures import ruth, tiny_gpt2
from robustness.checkpoints import load_config, load_model, load_tokenizer

GREEK = ('Στην αρχή ήταν ο Λόγος, και ο Λόγος ήταν με τον Θεό. Η γλώσσα είναι ζωντανή και αλλάζει με τον χρόνο.\n'
         'Οι άνθρωποι μιλούν δύο γλώσσες στο σπίτι και στο σχολείο, και διαβάζουν βιβλία κάθε βράδυ.\n')


@pytest.fixture(scope='module')
def release(tmp_path_factory):
    """A tiny GPT-2 saved twice: as a Hugging Face folder, and as the authors released theirs (`module.` prefixes,
    the 2022 attention buffers, a .pth file, a vocab.json + merges.txt tokenizer folder)."""
    root = tmp_path_factory.mktemp('release')
    bpe = ByteLevelBPETokenizer()  # GPT-2's kind of tokenizer, <|endoftext|> in its vocabulary
    bpe.train_from_iterator([ruth()[:6000] + GREEK * 20], vocab_size=320, min_frequency=2,
                            special_tokens=['<|endoftext|>'])
    (root / 'tokenizer').mkdir()
    bpe.save_model(str(root / 'tokenizer'))  # vocab.json + merges.txt
    tokenizer = load_tokenizer(str(root / 'model.pth'), 'models', str(root / 'tokenizer'))
    model = tiny_gpt2(len(tokenizer), n_layer=2, n_embd=64, n_head=1, n_positions=64, seed=4)  # 64-dim heads
    model.save_pretrained(root / 'hf')
    tokenizer.save_pretrained(root / 'hf')
    state = {f'module.{key}': value for key, value in model.state_dict().items()}
    for block in range(2):
        state[f'module.transformer.h.{block}.attn.bias'] = torch.tril(torch.ones(64, 64)).view(1, 1, 64, 64)
        state[f'module.transformer.h.{block}.attn.masked_bias'] = torch.tensor(-1e4)
    torch.save(state, root / 'model.pth')
    (root / 'eval.txt').write_text(ruth()[6000:8000])
    return root


def test_inferred_architecture(release):
    config = load_config(str(release / 'model.pth'), 'models')
    assert (config.n_layer, config.n_embd, config.n_head, config.n_positions, config.vocab_size) == (2, 64, 1, 64, 320)
    assert load_config(str(release / 'model.pth'), 'models', n_head=4).n_head == 4


def test_state_dict_gives_the_same_logits_as_the_folder(release):
    ids = torch.tensor([list(range(1, 60))])
    reference = AutoModelForCausalLM.from_pretrained(release / 'hf').eval()
    loaded = load_model(AutoModelForCausalLM, str(release / 'model.pth'), 'models')
    expected, got = reference(ids).logits, loaded(ids).logits
    assert ((got - expected).norm() / expected.norm()).item() < 1e-6
    assert loaded.lm_head.weight is loaded.transformer.wte.weight  # tied, as GPT-2's are
    classifier = load_model(AutoModelForSequenceClassification, str(release / 'model.pth'), 'models', num_labels=2)
    assert classifier.config.num_labels == 2
    assert torch.equal(classifier.transformer.h[1].mlp.c_fc.weight, reference.transformer.h[1].mlp.c_fc.weight)


@pytest.mark.parametrize('text', [ruth()[:3000], GREEK], ids=['english', 'greek'])
def test_vocab_and_merges_tokenizer_matches_the_tokenizers_library(release, text):
    folder = release / 'tokenizer'
    tokenizer = load_tokenizer(str(release / 'model.pth'), 'models', str(folder))
    reference = ByteLevelBPETokenizer(str(folder / 'vocab.json'), str(folder / 'merges.txt'))
    ids = tokenizer(text, add_special_tokens=False)['input_ids']
    assert ids == reference.encode(text).ids and len(ids) > 20
    assert tokenizer.decode(ids) == text
    assert tokenizer.eos_token == '<|endoftext|>' and len(tokenizer) == 320
    # the trap this avoids: transformers 5 builds an empty vocabulary from the two files
    trap = GPT2TokenizerFast(vocab_file=str(folder / 'vocab.json'), merges_file=str(folder / 'merges.txt'))
    assert trap(text)['input_ids'] != ids


def test_test_gpt2_level0_and_damage_equal_the_folder(release, tmp_path, monkeypatch):
    """The .pth entry and the Hugging Face folder are the same model: every row, damaged ones too, agrees."""
    out = tmp_path / 'out'
    result = run_main(monkeypatch, 'test_gpt2.py', f'--models=folder={release / "hf"},paper={release / "model.pth"}',
                        f'--tokenizers=paper={release / "tokenizer"}', f"--eval_files=en={release / 'eval.txt'}", '--lm_eval_tasks=',
                        '--kinds=random_deletion,magnitude_pruning', '--scope=attn', '--levels=0,0.3', '--repeats=2',
                        '--max_length=32', '--stride=16', '--bootstrap=20', f'--out_dir={out}',
                        f'--visuals_dir={tmp_path / "v"}', '--compare=paper:folder')
    assert result.returncode == 0, result.stderr[-2000:]
    frame = pd.read_csv(out / 'perplexity.csv')
    frame = frame[frame.checkpoint != 'untrained']
    folder = frame[frame.model == 'folder'].set_index(['kind', 'level', 'repeat']).sort_index()
    paper = frame[frame.model == 'paper'].set_index(['kind', 'level', 'repeat']).sort_index()
    assert len(paper) == 2 + 1 + 2 + 1 and (paper.scored_tokens == folder.scored_tokens).all()  # with the floor at 1.0
    assert ((paper.nll - folder.nll).abs() / folder.nll).max() < 1e-6
    assert set(paper.reset_index().checkpoint) == {'final'}  # a file has no epoch_<e> checkpoints


def test_run_glue_test_fine_tunes_from_a_state_dict(release, tmp_path, monkeypatch):
    out = tmp_path / 'out'
    result = run_main(monkeypatch, 'run_glue_test.py', f'--models=paper={release / "model.pth"}',
                        f'--tokenizers=paper={release / "tokenizer"}', '--train_size=32', '--validation_size=16',
                        '--epochs=1', '--batch_size=16', '--max_length=64', '--kinds=random_deletion', '--scope=attn',
                        '--layer_sets=all', '--levels=0,0.5', '--repeats=1', '--distraction_levels=0',
                        f'--out_dir={out}', f'--visuals_dir={tmp_path / "v"}')
    assert result.returncode == 0, result.stderr[-2000:]
    assert set(pd.read_csv(out / 'glue.csv').model) == {'paper'}
    saved = json.load(open(out / 'finetuned' / 'translation_paper' / 'config.json'))
    assert saved['n_embd'] == 64 and saved['pad_token_id'] == 0  # <|endoftext|> pads, in tokenizer and config


def state_with(release, tmp_path, change):
    state = torch.load(release / 'model.pth')
    change(state)
    torch.save(state, tmp_path / 'changed.pth')
    return tmp_path / 'changed.pth'


CASES = {
    'not_gpt2': 'is not a GPT-2 state dict: it has no transformer.wte.weight',
    'unexpected': '1 unexpected keys: transformer.h.0.adapter.weight',
    'missing': '1 missing keys: transformer.ln_f.weight',
    'no_tokenizer_files': 'holds no tokenizer: it needs vocab.json + merges.txt',
    'too_many_tokens': "has 320 tokens, more than the model's 300 embedding rows",
    'empty_folder': 'holds no model (no config.json)',
    'no_file': 'state-dict file',
    'unknown_label': "tokenizers: 'other' is not a label of models",
}


# Both scripts load through robustness/checkpoints.py: every case through test_gpt2.py, three through run_glue_test.py.
@pytest.mark.parametrize('script, case', [('test_gpt2.py', case) for case in CASES]
                         + [('run_glue_test.py', case) for case in ('not_gpt2', 'too_many_tokens', 'empty_folder')])
def test_bad_input_is_a_one_line_error_and_writes_nothing(release, tmp_path, script, case, monkeypatch):
    paper, tokenizers = release / 'model.pth', f'paper={release / "tokenizer"}'
    if case == 'not_gpt2':
        paper = state_with(release, tmp_path, lambda s: [s.clear(), s.update({'encoder.weight': torch.ones(2)})])
    elif case == 'unexpected':
        paper = state_with(release, tmp_path, lambda s: s.update({'transformer.h.0.adapter.weight': torch.ones(2)}))
    elif case == 'missing':
        paper = state_with(release, tmp_path, lambda s: s.pop('module.transformer.ln_f.weight'))
    elif case == 'no_tokenizer_files':
        (tmp_path / 'tok').mkdir()
        tokenizers = f'paper={tmp_path / "tok"}'
    elif case == 'too_many_tokens':
        small = tiny_gpt2(300, n_layer=1, n_embd=64, n_head=1)
        paper = tmp_path / 'small.pth'
        torch.save(small.state_dict(), paper)
    elif case == 'empty_folder':
        (tmp_path / 'empty').mkdir()
        paper, tokenizers = tmp_path / 'empty', ''
    elif case == 'no_file':
        paper = tmp_path / 'nothing.pth'
    elif case == 'unknown_label':
        tokenizers = f'other={release / "tokenizer"}'
    out = tmp_path / 'out'
    message = one_line_error(run_in_process(
        monkeypatch, script, f'--models=paper={paper}', f'--tokenizers={tokenizers}',
        *([f"--eval_files=en={release / 'eval.txt'}", '--lm_eval_tasks='] if script == 'test_gpt2.py' else ['--max_length=64']),
        f'--out_dir={out}', f'--visuals_dir={tmp_path / "v"}'))
    assert CASES[case] in message
    assert not out.exists() and not (tmp_path / 'v').exists()


def test_paper_figure1_config_is_valid(tmp_path, monkeypatch):
    """configs/paper_figure1.py parses; offline it stops at the first thing it cannot reach, in one line."""
    message = one_line_error(run_in_process(monkeypatch, 'test_gpt2.py', os.path.join(ROOT, 'configs/paper_figure1.py'),
                                            f'--out_dir={tmp_path / "out"}'))
    assert message.startswith('error: eval_files:') or message.startswith('error: models:'), message
    assert not (tmp_path / 'out').exists()
