"""The kinds of robustness/kinds.py, each against an independent computation written here (masks, hooks, loops,
torch's own pruning), and the registry itself."""

import copy
import re

import pytest
import torch
from torch import nn
from torch.nn.utils import prune
from transformers import BertForSequenceClassification, BloomForCausalLM, LlamaForCausalLM
from transformers.pytorch_utils import Conv1D

from conftest import bert, bloom, gpt2, llama, randomized, small_resnet_net, snapshot
from robustness.kinds import KINDS, weight_kinds
from robustness.perturb import check_kind, perturbed
from robustness.scopes import SCOPES, scoped_parameters


def names(model, scope, layers=None):
    return [name for name, _ in scoped_parameters(model, scope, layers)]


@pytest.mark.parametrize('scope', SCOPES)
def test_random_deletion_sparsity(scope):
    model = gpt2()
    with perturbed(model, 'random_deletion', 0.3, scope=scope, seed=1) as damage:
        assert damage.sparsity == pytest.approx(0.3, abs=0.02)
        zeros = sum(int((p == 0).sum()) for _, p in scoped_parameters(model, scope))
        assert damage.zeros == zeros and damage.numel == sum(p.numel() for _, p in scoped_parameters(model, scope))


@pytest.mark.parametrize('amount', [0.005, 0.1, 0.5, 0.9])  # 0.005: no weight of a 64-entry tensor
def test_magnitude_pruning_zeroes_the_smallest_in_each_tensor(amount):
    model = gpt2()
    original = snapshot(model)
    with perturbed(model, 'magnitude_pruning', amount, scope='blocks') as damage:
        expected = 0
        for name, w in scoped_parameters(model, 'blocks'):
            before = original[name].abs().flatten()
            pruned = w.flatten() == 0
            expected += round(amount * w.numel())
            assert int(pruned.sum()) == round(amount * w.numel())
            if 0 < pruned.sum() < w.numel():  # the threshold is exact: all pruned below all kept
                assert before[pruned].max() <= before[~pruned].min()
            assert torch.equal(w.flatten()[~pruned], original[name].flatten()[~pruned])
        assert damage.zeros == expected


@pytest.mark.parametrize('scope', ['attn', 'all'])
def test_global_magnitude_pruning_matches_torch_prune(scope):
    model, reference = gpt2(), gpt2()
    with perturbed(model, 'global_magnitude_pruning', 0.4, scope=scope) as damage:
        modules = dict(reference.named_modules())
        targets = [(modules[n.rpartition('.')[0]], n.rpartition('.')[2]) for n in names(reference, scope)]
        prune.global_unstructured(targets, pruning_method=prune.L1Unstructured, amount=0.4)
        expected = dict(reference.named_parameters()) | {n[:-5]: getattr(modules[n.rpartition('.')[0]],
                                                                         n.rpartition('.')[2][:-5])
                                                         for n, _ in reference.named_buffers() if n.endswith('_mask')}
        for name, w in scoped_parameters(model, scope):
            assert torch.equal(w, expected[name])
        assert damage.sparsity == pytest.approx(0.4, abs=1e-5)  # rounded to whole entries


@pytest.mark.parametrize('std', [0.01, 0.5])
def test_gaussian_noise_std(std):
    model = gpt2()
    original = snapshot(model)
    with perturbed(model, 'gaussian_noise', std, scope='blocks', seed=4) as damage:
        noise = torch.cat([(w - original[name]).flatten() for name, w in scoped_parameters(model, 'blocks')])
        assert noise.std().item() == pytest.approx(std, rel=0.03)
        assert abs(noise.mean().item()) < 0.03 * std
        assert damage.sparsity < 0.01


def test_neuron_deletion_zeroes_whole_units():
    model = gpt2()
    with perturbed(model, 'neuron_deletion', 0.5, scope='blocks', seed=2) as damage:
        c_attn = model.transformer.h[0].attn.c_attn  # Conv1D: weight (in, out), 3 * n_embd output units
        assert c_attn.weight.shape == (64, 192)
        dead = (c_attn.weight == 0).all(dim=0)
        assert 0.3 < dead.float().mean() < 0.7
        assert torch.equal(c_attn.bias == 0, dead)
        assert not (c_attn.weight == 0).all(dim=1).any()  # inputs are not deleted
        assert damage.sparsity == pytest.approx(0.5, abs=0.1)
    model = bert()
    with perturbed(model, 'neuron_deletion', 0.5, scope='mlp', seed=2):
        dense = model.bert.encoder.layer[0].intermediate.dense  # nn.Linear: weight (out, in)
        dead = (dense.weight == 0).all(dim=1)
        assert 0.2 < dead.float().mean() < 0.8 and torch.equal(dense.bias == 0, dead)


def test_neuron_deletion_silences_conv_channels_through_their_batchnorm():
    """A conv net in eval mode with random running statistics: every deleted channel is exactly zero after its
    BatchNorm for random inputs, its conv's filter is deleted with it, the kept channels of the first conv are
    unchanged, and the model is restored bit for bit."""
    from robustness.multitask import MultitaskNet, small_resnet
    torch.manual_seed(0)
    model = MultitaskNet(small_resnet(1, 8), 16, 3).eval()
    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    with torch.no_grad():
        for norm in norms:  # statistics and affine terms far from their defaults
            norm.running_mean.uniform_(-2, 2)
            norm.running_var.uniform_(0.5, 3)
            norm.weight.uniform_(0.5, 2)
            norm.bias.uniform_(-1, 1)
    original = snapshot(model)
    images = torch.randn(5, 1, 8, 8)
    outputs = {}
    # a clone: the block adds its shortcut to the norm's output in place
    hooks = [norm.register_forward_hook(lambda module, inputs, output: outputs.__setitem__(module, output.clone()))
             for norm in norms]
    block = model.backbone[4]
    pairs = [(model.backbone[0], norms[0]), (model.backbone[3].conv1, model.backbone[3].bn1),
             (model.backbone[3].conv2, model.backbone[3].bn2), (block.conv1, block.bn1), (block.conv2, block.bn2),
             (block.downsample[0], block.downsample[1])]
    with torch.no_grad():
        model(images)
        intact = outputs[norms[0]]
        with perturbed(model, 'neuron_deletion', 0.5, scope='backbone', seed=4):
            model(images)
            for conv, norm in pairs:
                dead = (conv.weight == 0).flatten(1).all(dim=1)
                assert 0 < dead.sum() < len(dead)
                assert torch.equal(norm.weight == 0, dead) and torch.equal(norm.bias == 0, dead)  # one mask
                assert torch.all(outputs[norm][:, dead] == 0)  # exactly zero after the normalization
            kept = ~(pairs[0][0].weight == 0).flatten(1).all(dim=1)
            assert torch.equal(outputs[norms[0]][:, kept], intact[:, kept])
    for hook in hooks:
        hook.remove()
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, original[name]), name


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
    with pytest.raises(ValueError, match='transformer.h.0.attn.c_attn.weight takes 64 inputs, not a multiple of the group 3'):
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


def test_channel_deletion_zeroes_whole_filters():
    model = randomized(small_resnet_net())
    with perturbed(model, 'neuron_deletion', 0.5, scope='backbone', seed=1):
        conv, norm = model.backbone[0], model.backbone[1]
        dead = (conv.weight == 0).flatten(1).all(dim=1)
        assert 0 < dead.sum() < 8
        assert ((conv.weight == 0).flatten(1).any(dim=1) == dead).all()  # a filter goes whole or not at all
        assert ((norm.weight == 0) == (norm.bias == 0)).all()  # a BatchNorm channel loses scale and shift together


def test_the_registry_names_every_kind_once_with_what_the_scripts_need():
    assert set(weight_kinds()) == {'random_deletion', 'magnitude_pruning', 'global_magnitude_pruning', 'gaussian_noise',
                                 'neuron_deletion', 'head_deletion', 'nm_pruning', 'wanda_pruning'}
    assert len({kind.label for kind in KINDS.values()}) == len(KINDS)
    for kind in KINDS.values():
        assert kind.grid in ('levels', 'noise_levels', 'distraction_levels') and kind.draws(5) in (1, 5)
        assert kind.same_on_one_tensor in (None, *KINDS)


def test_global_magnitude_pruning_is_magnitude_pruning_on_one_tensor():
    """What lets non_linear.py give the heads, one tensor, one row for the two kinds."""
    model, twin = small_resnet_net(), small_resnet_net()
    with perturbed(model, 'global_magnitude_pruning', 0.4, scope='heads'), \
            perturbed(twin, 'magnitude_pruning', 0.4, scope='heads'):
        assert torch.equal(model.heads.weight, twin.heads.weight)
    assert KINDS['global_magnitude_pruning'].same_on_one_tensor == 'magnitude_pruning'
