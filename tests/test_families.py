"""Every decoder and encoder family: the scopes mean the same thing, damage restores, the cached prefix is exact."""

import itertools
import os
import json
import re

import pandas as pd
import pytest
import torch

from conftest import ROOT, one_line_error, run_in_process, run_main
from families import DECODERS, ENCODERS, bpe_tokenizer, save_family_model, tiny_model, wordpiece_tokenizer
from robustness.corpora import english_verses
from robustness.perplexity import SlidingWindowNLL
from robustness.perturb import perturbed, scoped_parameters


def expand(pattern):
    """'a.{b,c}.weight' -> ['a.b.weight', 'a.c.weight'] (shell-style braces, nested allowed side by side)."""
    pieces = re.split(r'\{([^}]*)\}', pattern)
    options = [piece.split(',') if i % 2 else [piece] for i, piece in enumerate(pieces)]
    return [''.join(choice) for choice in itertools.product(*options)]


def names(*patterns):
    return {name for pattern in patterns for name in expand(pattern)}


# Block 0 of each family: (attn, mlp, the rest of the block), written by hand from the family's modeling code.
# `#` is the block index. Not in attn: the norms before and after the attention sublayer, even where the family keeps
# one inside its attention module (BERT-style attention.output.LayerNorm); likewise the feed-forward's.
LLAMA_LIKE = (names('model.layers.#.self_attn.{q,k,v,o}_proj.weight'),
              names('model.layers.#.mlp.{gate,up,down}_proj.weight'),
              names('model.layers.#.{input_layernorm,post_attention_layernorm}.weight'))
BERT_LIKE = lambda body, query='{query,key,value}': (
    names(f'{body}.encoder.layer.#.attention.self.{query}.{{weight,bias}}',
          f'{body}.encoder.layer.#.attention.output.dense.{{weight,bias}}'),
    names(f'{body}.encoder.layer.#.{{intermediate,output}}.dense.{{weight,bias}}'),
    names(f'{body}.encoder.layer.#.{{attention.output,output}}.LayerNorm.{{weight,bias}}'))
FAIRSEQ_LIKE = lambda body: (names(f'{body}.#.self_attn.{{q,k,v,out}}_proj.{{weight,bias}}'),
                             names(f'{body}.#.{{fc1,fc2}}.{{weight,bias}}'),
                             names(f'{body}.#.{{self_attn_layer_norm,final_layer_norm}}.{{weight,bias}}'))
NEOX_LIKE = lambda body, attention: (
    names(f'{body}.#.{attention}.{{query_key_value,dense}}.{{weight,bias}}'),
    names(f'{body}.#.mlp.{{dense_h_to_4h,dense_4h_to_h}}.{{weight,bias}}'),
    names(f'{body}.#.{{input_layernorm,post_attention_layernorm}}.{{weight,bias}}'))
SCOPE_TABLE = {
    'gpt2': (names('transformer.h.#.attn.{c_attn,c_proj}.{weight,bias}'),
             names('transformer.h.#.mlp.{c_fc,c_proj}.{weight,bias}'),
             names('transformer.h.#.{ln_1,ln_2}.{weight,bias}')),
    'gpt_neox': NEOX_LIKE('gpt_neox.layers', 'attention'),
    'llama': LLAMA_LIKE, 'mistral': LLAMA_LIKE, 'gemma': LLAMA_LIKE,
    'qwen2': (LLAMA_LIKE[0] | names('model.layers.#.self_attn.{q,k,v}_proj.bias'), *LLAMA_LIKE[1:]),
    'qwen3': (LLAMA_LIKE[0] | names('model.layers.#.self_attn.{q,k}_norm.weight'), *LLAMA_LIKE[1:]),  # norms inside
    'opt': FAIRSEQ_LIKE('model.decoder.layers'),
    'xglm': FAIRSEQ_LIKE('model.layers'),
    'bloom': NEOX_LIKE('transformer.h', 'self_attention'),
    # Falcon-7B's layout (parallel attention and MLP, one norm, no biases in the projections)
    'falcon': (names('transformer.h.#.self_attention.{query_key_value,dense}.weight'),
               names('transformer.h.#.mlp.{dense_h_to_4h,dense_4h_to_h}.weight'),
               names('transformer.h.#.input_layernorm.{weight,bias}')),
    'bert': BERT_LIKE('bert'), 'roberta': BERT_LIKE('roberta'), 'xlm-roberta': BERT_LIKE('roberta'),
    'deberta-v2': (BERT_LIKE('deberta', '{query_proj,key_proj,value_proj,pos_key_proj,pos_query_proj}')),
    'distilbert': (names('distilbert.transformer.layer.#.attention.{q,k,v,out}_lin.{weight,bias}'),
                   names('distilbert.transformer.layer.#.ffn.{lin1,lin2}.{weight,bias}'),
                   names('distilbert.transformer.layer.#.{sa_layer_norm,output_layer_norm}.{weight,bias}')),
    # XLM keeps four parallel lists (attentions, layer_norm1, ffns, layer_norm2): block # is entry # of each
    'xlm': (names('transformer.attentions.#.{q,k,v,out}_lin.{weight,bias}'),
            names('transformer.ffns.#.{lin1,lin2}.{weight,bias}'),
            names('transformer.{layer_norm1,layer_norm2}.#.{weight,bias}')),
    # ModernBERT: the first block's attn_norm is an Identity (the embeddings end in a norm), later blocks have one
    'modernbert': (names('model.layers.#.attn.{Wqkv,Wo}.weight'), names('model.layers.#.mlp.{Wi,Wo}.weight'),
                   names('model.layers.#.mlp_norm.weight')),
}
FIRST_BLOCK_ONLY = {'modernbert': names('model.layers.#.attn_norm.weight')}  # present from block 1 on


@pytest.mark.parametrize('family', DECODERS + ENCODERS)
def test_every_scope_selects_the_same_sublayer_in_every_family(family):
    model = tiny_model(family, classifier=family in ENCODERS)
    attn, mlp, rest = SCOPE_TABLE[family]
    for block in (0, 1):
        at = lambda group: {name.replace('#', str(block)) for name in group}
        extra = at(FIRST_BLOCK_ONLY.get(family, set())) if block else set()
        chosen = {scope: {name for name, _ in scoped_parameters(model, scope, [block])} for scope in ('attn', 'mlp', 'blocks')}
        assert chosen['attn'] == at(attn)
        assert chosen['mlp'] == at(mlp)
        assert chosen['blocks'] == at(attn) | at(mlp) | at(rest) | extra
    assert [name for name, _ in scoped_parameters(model, 'all')] == [name for name, _ in model.named_parameters()]


def forward(model):
    ids = torch.tensor([[5, 9, 17, 33, 2, 8, 40, 41]])
    with torch.no_grad():
        return model(ids).logits


@pytest.mark.parametrize('family', DECODERS + ENCODERS)
@pytest.mark.parametrize('kind', ['neuron_deletion', 'head_deletion', 'magnitude_pruning'])
def test_damage_changes_the_output_and_restores_on_every_family(family, kind):
    model = tiny_model(family, classifier=family in ENCODERS)
    before = {name: p.clone() for name, p in model.named_parameters()}
    intact = forward(model)
    with perturbed(model, kind, 0.5, scope='attn', seed=2) as damage:
        assert damage.sparsity > 0
        assert not torch.equal(forward(model), intact)
        if kind == 'head_deletion':  # whole heads: every zeroed input column of the output projection, a head's
            for name in damage.names:
                weight = dict(model.named_parameters())[name]
                dead = (weight == 0).all(dim=1 if family == 'gpt2' else 0)  # Conv1D stores (in, out)
                heads = dead.view(-1, 8)  # head size: 32 wide / 4 heads
                assert (heads.all(dim=1) | ~heads.any(dim=1)).all(), name
    assert all(torch.equal(p, before[name]) for name, p in model.named_parameters())
    assert torch.equal(forward(model), intact)


@pytest.mark.parametrize('family', DECODERS)
def test_cached_prefix_equals_the_full_forward_on_every_decoder(family):
    model = tiny_model(family)
    ids = torch.randint(1, 300, (200,), generator=torch.Generator().manual_seed(0))
    full = SlidingWindowNLL(model, ids, 64, 32, batch_size=2)
    cached = SlidingWindowNLL(model, ids, 64, 32, batch_size=2, first_block=1)
    intact = full()
    assert cached() == pytest.approx(intact, rel=1e-5)
    with perturbed(model, 'gaussian_noise', 1.0, scope='blocks', seed=1, layers=[1]):
        damaged = full()
        assert cached() == pytest.approx(damaged, rel=1e-5)
    assert abs(damaged[0] - intact[0]) > 10 * 1e-5 * intact[0]  # ten tolerances: the damage is in the result
    assert cached() == pytest.approx(full(), rel=1e-5)  # the blocks' forward is back


VERSES = list(english_verses('web').values())[:400]
CLASSIFIER_DECODERS = ('gpt2', 'llama', 'opt', 'bloom')  # decoders that run_glue_test.py also fine-tunes


@pytest.fixture(scope='module')
def family_dirs(tmp_path_factory):
    """Every decoder family as a causal LM folder, every encoder family (and four decoders) as a classifier folder."""
    root = tmp_path_factory.mktemp('families')
    bpe, wordpiece = bpe_tokenizer(VERSES, 300), wordpiece_tokenizer(VERSES, 300)
    for family in DECODERS:
        save_family_model(root / 'lm' / family, family, bpe)
    for family in ENCODERS + CLASSIFIER_DECODERS:
        save_family_model(root / 'classifier' / family, family, wordpiece if family in ENCODERS else bpe, classifier=True)
    (root / 'eval.txt').write_text('\n'.join(VERSES[300:340]) + '\n')
    return root


def test_test_gpt2_on_every_decoder_family(family_dirs, tmp_path, monkeypatch):
    """test_gpt2.py as a user runs it, on every decoder family at once: the last block swept through the cached
    prefix, a half-failure level for every model x kind x scope."""
    out = tmp_path / 'out'
    models = ','.join(f'{family}={family_dirs / "lm" / family}' for family in DECODERS)
    result = run_main(monkeypatch, 'test_gpt2.py', f'--models={models}', '--compare=llama:gpt2', f'--eval_files=en={family_dirs / "eval.txt"}', '--lm_eval_tasks=',
                        '--max_length=32', '--stride=16', '--kinds=random_deletion,neuron_deletion,head_deletion',
                        '--scope=attn,mlp', '--layers=1', '--levels=0,0.75', '--repeats=1', '--bootstrap=20',
                        f'--out_dir={out}', f'--visuals_dir={out / "v"}')
    assert result.returncode == 0, result.stderr[-3000:]
    frame = pd.read_csv(out / 'perplexity.csv')
    for family, rows in frame.groupby('model'):
        swept = {(kind, scope) for kind, scope in zip(rows['kind'], rows['scope'])}
        assert swept == {(kind, scope) for kind in ('random_deletion', 'neuron_deletion') for scope in ('attn', 'mlp')} | {('head_deletion', 'attn')}, family
        damaged = rows[rows['level'] == 0.75]
        assert (damaged['nll'] != rows[rows['level'] == 0]['nll'].iloc[0]).all(), family
    halves = json.load(open(out / 'summary.json'))['half_failure_level']
    assert len(halves) == len(DECODERS) * 5


def test_run_glue_test_on_every_encoder_family_and_four_decoders(family_dirs, tmp_path, monkeypatch):
    out = tmp_path / 'out'
    models = ','.join(f'{family}={family_dirs / "classifier" / family}' for family in ENCODERS + CLASSIFIER_DECODERS)
    result = run_main(monkeypatch, 'run_glue_test.py', f'--models={models}', '--compare=xlm-roberta:roberta', '--jobs=1',
                        '--train_size=32', '--validation_size=16', '--epochs=1', '--batch_size=16', '--max_length=32',
                        '--kinds=random_deletion,neuron_deletion,head_deletion', '--scope=attn,mlp', '--levels=0,0.5',
                        '--repeats=1', '--bootstrap=20', f'--out_dir={out}', f'--visuals_dir={out / "v"}')
    assert result.returncode == 0, result.stderr[-3000:]
    frame = pd.read_csv(out / 'glue.csv')
    frame = frame[frame['metric'] == 'accuracy']
    assert set(frame['model']) == set(ENCODERS + CLASSIFIER_DECODERS)
    for family, rows in frame.groupby('model'):
        assert len(rows) == 5 * 2, family  # levels 0 and 0.5 of random and neuron deletion x attn, mlp; heads on attn
        damaged = rows[rows['level'] == 0.5]
        assert (damaged['sparsity'] > 0).all(), family  # every kind reached the weights of every family
        assert (damaged['loss'] != rows[rows['level'] == 0]['loss'].iloc[0]).any(), family


@pytest.mark.parametrize('script, config', [('test_gpt2.py', 'configs/bgpt_goldfish.py'),
                                            ('test_gpt2.py', 'configs/bgpt_sequential_steps.py'),
                                            ('test_gpt2.py', 'configs/lm_eval_zero_shot.py'),
                                            ('run_glue_test.py', 'configs/glue_encoder_pairs.py')])
def test_paper_scale_configs_stop_offline_in_one_line(script, config, tmp_path, monkeypatch):
    """The public-pair configs parse and, offline, stop at the hub in one line that says how to get the data, before
    anything is written."""
    message = one_line_error(run_in_process(monkeypatch, script, os.path.join(ROOT, config), f'--out_dir={tmp_path / "out"}'))
    assert 'Hugging Face' in message and ('hf download' in message or 'load_dataset' in message), message
    assert not (tmp_path / 'out').exists()


def test_a_model_without_blocks_or_a_scope_that_selects_nothing_is_a_one_line_error():
    flat = torch.nn.Sequential(torch.nn.Linear(4, 4))
    with pytest.raises(ValueError, match="scope 'attn': cannot find the transformer blocks of Sequential"):
        scoped_parameters(flat, 'attn')
    with pytest.raises(ValueError, match="scope 'backbone' with layers None selects no parameter of GPT2LMHeadModel"):
        scoped_parameters(tiny_model('gpt2'), 'backbone')


def test_the_zero_shot_config_names_registered_multiple_choice_tasks():
    """configs/lm_eval_zero_shot.py's tasks are lm-eval's own, each one multiple-choice task on the hub (so its floor
    is chance), and offline they stop in one line before any trial."""
    from robustness import harness
    settings = {}
    exec(open(os.path.join(ROOT, 'configs/lm_eval_zero_shot.py')).read(),
         {'__file__': os.path.join(ROOT, 'configs/lm_eval_zero_shot.py')}, settings)
    manager = harness.task_manager(settings['lm_eval_tasks'], settings['lm_eval_include'])
    for task in settings['lm_eval_tasks']:
        (name, config), = harness.leaf_configs(manager, task)
        assert name == task and config['output_type'] == 'multiple_choice' and config['dataset_path'], task
    with pytest.raises(ValueError, match=r"lm_eval_tasks: boolq needs the Hugging Face hub \(dataset aps/super_glue\)"):
        harness.load_tasks(['boolq'], '')
