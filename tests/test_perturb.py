"""robustness/perturb.py, the context manager: every kind restores every model bit for bit, honours `layers`, draws
its masks from its seed alone (the same on another model of the same shape), changes nothing at amount 0, and says
what it cannot do in one line."""

import pytest
import torch

from conftest import bert, gpt2, kind_options, llama, resnet18_net, small_resnet_net, snapshot, xlm
from robustness.kinds import KINDS, conv_kinds, weight_kinds
from robustness.perturb import perturbed

TRANSFORMERS = {'gpt2': gpt2, 'bert': bert, 'xlm': xlm, 'llama': llama}
CONV_NETS = {'small resnet': small_resnet_net, 'resnet18': resnet18_net}
CASES = ([(kind, name, scope) for kind in weight_kinds() for name in TRANSFORMERS for scope in ('attn', 'all')
          if kind != 'head_deletion' or scope == 'attn']
         + [(kind, name, scope) for kind in conv_kinds() for name in CONV_NETS for scope in ('backbone', 'heads', 'all')])


def amount(kind):
    return 0.5 if KINDS[kind].high else 0.3


@pytest.mark.parametrize('kind,model,scope', CASES, ids=['-'.join(case) for case in CASES])
def test_every_kind_restores_every_model_bit_for_bit(kind, model, scope):
    """One test for every kind, on transformers and conv nets: the weights change inside the block and come back
    exactly, after it ends and after an error inside it; so do a conv net's outputs."""
    network = {**TRANSFORMERS, **CONV_NETS}[model]()
    original = snapshot(network)
    images = torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(0)) if model in CONV_NETS else None
    before = network(images) if images is not None else None
    seed = 3 if model in CONV_NETS else 7  # draws that delete some of the two heads of the conv nets
    with perturbed(network, kind, amount(kind), scope=scope, seed=seed, **kind_options(kind)) as damage:
        assert any(not torch.equal(t, original[n]) for n, t in network.state_dict().items())
        assert damage.names
    assert all(torch.equal(t, original[n]) for n, t in network.state_dict().items())
    with pytest.raises(RuntimeError):  # an error inside the block restores too
        with perturbed(network, kind, amount(kind), scope=scope, seed=seed, **kind_options(kind)):
            raise RuntimeError
    assert all(torch.equal(t, original[n]) for n, t in network.state_dict().items())
    if images is not None:
        assert torch.equal(network(images), before)


@pytest.mark.parametrize('kind', weight_kinds())
def test_layers_honoured(kind):
    model = gpt2(n_layer=3)
    original = snapshot(model)
    with perturbed(model, kind, amount(kind), scope='blocks', layers=[1], **kind_options(kind)):
        changed = {name for name, tensor in model.state_dict().items() if not torch.equal(tensor, original[name])}
    assert changed and all(name.startswith('transformer.h.1.') for name in changed)


def test_random_masks_are_seeded_and_paired():
    first, second, other = gpt2(seed=0), gpt2(seed=0), gpt2(seed=5)
    with perturbed(first, 'random_deletion', 0.3, seed=1), perturbed(second, 'random_deletion', 0.3, seed=1), \
            perturbed(other, 'random_deletion', 0.3, seed=1):
        a, b, c = (m.transformer.h[0].attn.c_attn.weight == 0 for m in (first, second, other))
        assert torch.equal(a, b) and torch.equal(a, c)  # same masks on another model of the same shape
    with perturbed(first, 'random_deletion', 0.3, seed=1):
        again = first.transformer.h[0].attn.c_attn.weight == 0
    with perturbed(first, 'random_deletion', 0.3, seed=2):
        reseeded = first.transformer.h[0].attn.c_attn.weight == 0
    assert torch.equal(again, a) and not torch.equal(reseeded, a)


@pytest.mark.parametrize('kind', ['head_deletion', 'nm_pruning', 'wanda_pruning'])
def test_structural_masks_pair_across_models(kind):
    # head deletion draws its masks: the same on a model of the same shape with other weights; N:M and Wanda
    # derive theirs from the weights: the same on an identical copy
    model, twin = llama(), (llama(seed=1) if kind == 'head_deletion' else llama())
    with perturbed(model, kind, 0.5, scope='blocks', seed=2, **kind_options(kind)) as first, \
            perturbed(twin, kind, 0.5, scope='blocks', seed=2, **kind_options(kind)):
        assert first.zeros > 0
        for name in first.names:
            assert torch.equal(dict(model.named_parameters())[name] == 0, dict(twin.named_parameters())[name] == 0)


@pytest.mark.parametrize('kind', weight_kinds())
def test_amount_zero_changes_nothing(kind):
    model = gpt2()
    original = snapshot(model)
    scope = 'attn' if KINDS[kind].on_heads else 'all'
    with perturbed(model, kind, 0.0, scope=scope, **kind_options(kind)):
        assert all(torch.equal(t, original[n]) for n, t in model.state_dict().items())


@pytest.mark.parametrize('kind', weight_kinds())
def test_a_kind_is_deterministic_exactly_when_its_seed_changes_nothing(kind):
    """The registry's `deterministic` (one draw per level) against what the kind does: two seeds, the same damage."""
    model = gpt2()
    scope = 'attn' if KINDS[kind].on_heads else 'all'
    damaged = []
    for seed in (1, 2):
        with perturbed(model, kind, amount(kind), scope=scope, seed=seed, **kind_options(kind)):
            damaged.append({name: tensor.clone() for name, tensor in model.state_dict().items()})
    same = all(torch.equal(damaged[0][name], damaged[1][name]) for name in damaged[0])
    assert KINDS[kind].deterministic == same


@pytest.mark.parametrize('kind,level,scope,layers,options,message', [
    ('dropout', 0.1, 'attn', None, {}, 'unknown kind'),
    ('distraction', 0.1, 'attn', None, {}, 'unknown kind'),  # a kind of the registry, not of a network's weights
    ('random_deletion', 1.5, 'attn', None, {}, 'outside'),
    ('gaussian_noise', -0.1, 'attn', None, {}, 'outside'),
    ('random_deletion', 0.1, 'encoder', None, {}, 'unknown scope'),
    ('random_deletion', 0.1, 'attn', [2], {}, 'outside'),
    ('random_deletion', 0.1, 'attn', None, {'group': 2}, 'unknown option group'),
])
def test_errors(kind, level, scope, layers, options, message):
    with pytest.raises(ValueError, match=message):
        with perturbed(gpt2(), kind, level, scope=scope, layers=layers, **options):
            pass
