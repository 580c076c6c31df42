"""The structural kinds of robustness.perturb: head deletion, N:M sparsity and Wanda, each against an independent
computation written here."""

import copy
import re

import pytest
import torch
from torch import nn
from transformers import (BertConfig, BertForSequenceClassification, BloomConfig, BloomForCausalLM, LlamaConfig,
                          LlamaForCausalLM)
from transformers.pytorch_utils import Conv1D

from robustness.perturb import check_kind, perturbed
from test_perturb import bert, gpt2, randomized, snapshot


def llama():
    """Grouped-query attention: 4 query heads share 2 key/value heads."""
    return randomized(LlamaForCausalLM(LlamaConfig(vocab_size=100, hidden_size=32, intermediate_size=64,
                                                   num_hidden_layers=2, num_attention_heads=4,
                                                   num_key_value_heads=2)).eval())


def bloom():
    return randomized(BloomForCausalLM(BloomConfig(vocab_size=100, hidden_size=32, n_layer=2, n_head=4)).eval())


def output_projections(model):
    """{module name: module} of the attention output projections, found here without robustness.perturb."""
    wanted = {LlamaForCausalLM: 'self_attn.o_proj', BloomForCausalLM: 'self_attention.dense',
              BertForSequenceClassification: 'attention.output.dense'}.get(type(model), 'attn.c_proj')
    return {name: module for name, module in model.named_modules() if name.endswith(wanted)}


def head_size(model):
    config = model.config
    return getattr(config, 'head_dim', None) or config.hidden_size // config.num_attention_heads


def inputs(model):
    return torch.randint(0, 100, (2, 12), generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize('make', [gpt2, llama, bert, bloom])
def test_head_deletion_equals_ablating_the_heads_context(make):
    model = make()
    size = head_size(model)
    ids = inputs(model)
    with perturbed(model, 'head_deletion', 0.5, scope='blocks', seed=3) as damage:
        damaged = model(input_ids=ids).logits
        deleted = {}
        for name, module in output_projections(model).items():
            w = module.weight if isinstance(module, Conv1D) else module.weight.t()  # (inputs, outputs)
            per_head = w.reshape(-1, size, w.shape[1])
            zero, untouched = (per_head == 0).all(dim=(1, 2)), (per_head != 0).all(dim=(1, 2))
            assert torch.all(zero | untouched)  # every head fully deleted or left alone
            deleted[name] = zero
        assert damage.names == [f'{name}.weight' for name in output_projections(model)]
    assert 0 < sum(int(d.sum()) for d in deleted.values()) < sum(len(d) for d in deleted.values())

    def ablate(dead):
        def hook(module, args):
            context = args[0].clone()
            context.view(*context.shape[:-1], -1, size)[..., dead, :] = 0
            return (context,)
        return hook

    hooks = [module.register_forward_pre_hook(ablate(deleted[name]))
             for name, module in output_projections(model).items()]
    try:
        with torch.no_grad():
            ablated = model(input_ids=ids).logits
    finally:
        for hook in hooks:
            hook.remove()
    torch.testing.assert_close(damaged, ablated, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('make', [gpt2, llama, bert, bloom])
def test_every_head_deleted_leaves_the_output_bias(make):
    model = make()
    outputs = {}
    hooks = [module.register_forward_hook(lambda m, a, out, name=name: outputs.__setitem__(name, out))
             for name, module in output_projections(model).items()]
    with perturbed(model, 'head_deletion', 1.0, scope='attn') as damage, torch.no_grad():
        model(input_ids=inputs(model))
        assert damage.sparsity == 1.0
    for hook in hooks:
        hook.remove()
    for name, module in output_projections(model).items():
        bias = module.bias if module.bias is not None else torch.zeros(outputs[name].shape[-1])
        torch.testing.assert_close(outputs[name], bias.expand_as(outputs[name]), rtol=0, atol=0)


def test_head_deletion_errors():
    with pytest.raises(ValueError, match='no attention output projection'):
        check_kind(gpt2(), 'head_deletion', 0.5, scope='mlp')
    model = gpt2()
    del model.config.n_head  # nothing left to read the head size from
    model.config.num_attention_heads = None
    with pytest.raises(ValueError, match='cannot read the head size'):
        check_kind(model, 'head_deletion', 0.5, scope='attn')


def nm_reference(matrix, amount, group):
    """N:M pruning of an (outputs, inputs) matrix by a plain loop over its groups."""
    pruned, count = matrix.clone(), round(amount * group)
    for row in range(matrix.shape[0]):
        for start in range(0, matrix.shape[1], group):
            values = matrix[row, start:start + group].abs().tolist()
            for index in sorted(range(group), key=lambda i: values[i])[:count]:
                pruned[row, start + index] = 0
    return pruned


@pytest.mark.parametrize('amount,group', [(0.5, 4), (0.25, 4), (0.75, 8), (1.0, 2)])
def test_nm_pruning_matches_a_plain_loop(amount, group):
    model = gpt2()
    original = snapshot(model)
    with perturbed(model, 'nm_pruning', amount, scope='blocks', group=group) as damage:
        for name in damage.names:
            module = dict(model.named_modules())[name.rpartition('.')[0]]
            as_rows = (lambda w: w.t()) if isinstance(module, Conv1D) else (lambda w: w)
            matrix = as_rows(dict(model.named_parameters())[name])
            assert torch.equal(matrix, nm_reference(as_rows(original[name]), amount, group))
            kept = (matrix.reshape(-1, group) != 0).sum(1)
            assert int(kept.max()) <= group - round(amount * group)
        assert not any('ln_' in name or name.endswith('bias') for name in damage.names)  # matrices only
        assert damage.sparsity == pytest.approx(round(amount * group) / group)


def test_nm_pruning_of_a_convolution_groups_input_channels():
    conv = nn.Conv2d(8, 3, 3)
    model = nn.Module()
    model.backbone = nn.Sequential(conv)
    randomized(model)
    original = conv.weight.detach().clone()
    with perturbed(model, 'nm_pruning', 0.5, scope='backbone'):
        expected = nm_reference(original.permute(0, 2, 3, 1).reshape(-1, 8), 0.5, 4)
        assert torch.equal(conv.weight.permute(0, 2, 3, 1).reshape(-1, 8), expected)
    assert torch.equal(conv.weight, original)
    with pytest.raises(ValueError, match='holds no weight matrix'):  # 3 does not divide the 8 input channels
        check_kind(model, 'nm_pruning', 0.5, scope='backbone', group=3)
    with pytest.raises(ValueError, match='group 3 does not divide the 64 inputs of transformer.h.0.attn.c_attn.weight'):
        check_kind(gpt2(), 'nm_pruning', 0.5, scope='attn', group=3)


def wanda_reference(model, calibration, amount, scope_names, block_by_block=True):
    """Wanda masks the way the reference code (locuslab/wanda, prune_wanda) makes them, written here with hooks and
    sorting on a copy of the model: block by block, the norms of block i's layers from a full forward pass with
    blocks 0..i-1 already pruned, then block i pruned (block_by_block=False: every norm from one pass over the
    intact model). {parameter name: boolean mask of the entries to zero}."""
    model = copy.deepcopy(model)
    modules = {f'{name}.weight': module for name, module in model.named_modules()
               if isinstance(module, (nn.Linear, Conv1D)) and f'{name}.weight' in scope_names}
    block_of = lambda name: int(re.search(r'\.(\d+)\.', name).group(1)) if block_by_block else 0
    masks = {}
    for block in sorted({block_of(name) for name in modules}):
        names = [name for name in modules if block_of(name) == block]
        squares = {}
        hooks = [modules[name].register_forward_hook(
            lambda m, args, out, name=name: squares.__setitem__(name, squares.get(name, 0) + (args[0] ** 2).sum((0, 1))))
            for name in names]
        with torch.no_grad():
            model(input_ids=calibration)
        for hook in hooks:
            hook.remove()
        for name in names:
            module = modules[name]
            rows = module.weight.t() if isinstance(module, Conv1D) else module.weight
            scores = rows.abs() * squares[name].sqrt()
            k = round(amount * rows.shape[1])
            mask = torch.zeros_like(rows, dtype=torch.bool)
            for r in range(rows.shape[0]):
                mask[r, torch.sort(scores[r], stable=True).indices[:k]] = True
            with torch.no_grad():
                rows.masked_fill_(mask, 0)
            masks[name] = mask.t() if isinstance(module, Conv1D) else mask
    return masks


@pytest.mark.parametrize('make', [gpt2, llama])
@pytest.mark.parametrize('scope', ['attn', 'mlp', 'blocks'])
def test_wanda_matches_the_reference_block_by_block(make, scope):
    model = make()
    calibration = torch.randint(0, 100, (3, 10), generator=torch.Generator().manual_seed(1))
    original = snapshot(model)
    with perturbed(model, 'wanda_pruning', 0.6, scope=scope, calibration=calibration) as damage:
        pruned = {name: w == 0 for name, w in model.named_parameters() if name in damage.names}
    assert all(torch.equal(t, original[n]) for n, t in model.state_dict().items())  # restored bit for bit
    reference = wanda_reference(model, calibration, 0.6, damage.names)
    for name in damage.names:
        assert torch.equal(pruned[name], reference[name] | (original[name] == 0)), name
    if scope == 'blocks':  # the deep blocks' masks differ from those of one pass over the intact model
        one_pass = wanda_reference(model, calibration, 0.6, damage.names, block_by_block=False)
        assert any(not torch.equal(one_pass[name], reference[name]) for name in damage.names)


def test_wanda_needs_calibration():
    with pytest.raises(ValueError, match='needs calibration'):
        check_kind(gpt2(), 'wanda_pruning', 0.5, scope='attn')
    with pytest.raises(ValueError, match='needs calibration'):
        check_kind(gpt2(), 'wanda_pruning', 0.5, scope='attn', calibration=torch.zeros(2, 3))


@pytest.mark.parametrize('kind,options', [('head_deletion', {}), ('nm_pruning', {'group': 4}),
                                          ('wanda_pruning', {'calibration': torch.arange(40).view(2, 20) % 100})])
def test_structural_kinds_restore_and_pair(kind, options):
    # head deletion draws its masks: the same on a model of the same shape with other weights; N:M and Wanda
    # derive theirs from the weights: the same on an identical copy
    model, twin = llama(), (randomized(llama(), seed=1) if kind == 'head_deletion' else llama())
    original = snapshot(model)
    with perturbed(model, kind, 0.5, scope='blocks', seed=2, **options) as first, \
            perturbed(twin, kind, 0.5, scope='blocks', seed=2, **options):
        assert first.zeros > 0
        masks = [(dict(m.named_parameters())[name] == 0) for m in (model, twin) for name in first.names]
        half = len(masks) // 2
        assert all(torch.equal(a, b) for a, b in zip(masks[:half], masks[half:]))  # the same masks, same shape
    assert all(torch.equal(t, original[n]) for n, t in model.state_dict().items())
