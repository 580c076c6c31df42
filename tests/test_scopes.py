"""robustness/scopes.py: which parameters each scope holds, in GPT-2, BERT-style encoders, XLM and the conv nets
(every family's exact names: tests/test_families.py)."""

import pytest
from transformers import GPT2ForSequenceClassification

from conftest import bert, gpt2, small_resnet_net, xlm
from robustness.scopes import num_layers, scoped_parameters


def names(model, scope, layers=None):
    return [name for name, _ in scoped_parameters(model, scope, layers)]


def test_scopes_of_gpt2():
    model = gpt2()
    assert names(model, 'attn') == [f'transformer.h.{i}.attn.{m}.{p}' for i in range(2)
                                    for m in ('c_attn', 'c_proj') for p in ('weight', 'bias')]
    assert names(model, 'mlp') == [f'transformer.h.{i}.mlp.{m}.{p}' for i in range(2)
                                   for m in ('c_fc', 'c_proj') for p in ('weight', 'bias')]
    assert names(model, 'blocks') == [name for name, _ in model.named_parameters() if name.startswith('transformer.h.')]
    every = names(model, 'all')
    assert 'transformer.wte.weight' in every and 'lm_head.weight' not in every  # tied weight counted once
    assert sum(p.numel() for _, p in scoped_parameters(model, 'all')) == model.num_parameters()
    assert names(model, 'attn', layers=[1]) == [n for n in names(model, 'attn') if n.startswith('transformer.h.1.')]
    assert names(model, 'all', layers=[0]) == names(model, 'blocks', layers=[0])


def test_scopes_of_sequence_classifiers():
    model = bert()
    assert num_layers(model) == 3
    attn = names(model, 'attn')
    assert 'bert.encoder.layer.0.attention.self.query.weight' in attn
    assert 'bert.encoder.layer.2.attention.output.dense.bias' in attn
    assert not any('intermediate' in n or '.output.dense' in n.replace('attention.output', '') for n in attn)
    mlp = names(model, 'mlp')
    assert mlp == [f'bert.encoder.layer.{i}.{m}.dense.{p}' for i in range(3) for m in ('intermediate', 'output')
                   for p in ('weight', 'bias')]
    assert not any('embeddings' in n or 'pooler' in n or 'classifier' in n for n in names(model, 'blocks'))
    assert 'classifier.weight' in names(model, 'all')

    model = xlm()
    assert num_layers(model) == 2
    assert names(model, 'attn') == [f'transformer.attentions.{i}.{m}.{p}' for i in range(2)
                                    for m in ('q_lin', 'k_lin', 'v_lin', 'out_lin') for p in ('weight', 'bias')]
    assert all(n.startswith('transformer.ffns.') for n in names(model, 'mlp'))
    assert len(names(model, 'blocks', layers=[1])) == 8 + 4 + 4  # attention, ffn, two layer norms

    model = GPT2ForSequenceClassification(gpt2().config)
    assert names(model, 'attn') == names(gpt2(), 'attn')


def test_conv_scopes():
    model = small_resnet_net()
    heads, backbone = names(model, 'heads'), names(model, 'backbone')
    assert heads == ['heads.weight'] and backbone and all(name.startswith('backbone.') for name in backbone)
    assert len(names(model, 'all')) == len(heads) + len(backbone)


@pytest.mark.parametrize('scope,layers,message', [('encoder', None, 'unknown scope'),
                                                  ('heads', None, 'selects no parameter'),
                                                  ('attn', [2], 'outside the model')])
def test_a_scope_that_cannot_be_had_is_a_one_line_error(scope, layers, message):
    with pytest.raises(ValueError, match=message):
        scoped_parameters(gpt2(), scope, layers)
