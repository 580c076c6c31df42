import pytest
import torch
from torch import nn
from torch.nn.utils import prune
from transformers import BertConfig, BertForSequenceClassification, GPT2ForSequenceClassification, XLMConfig, \
    XLMForSequenceClassification

from gpt2_fixtures import tiny_gpt2
from robustness.perturb import AMOUNT_RANGES, KINDS, SCOPES, num_layers, perturbed, scoped_parameters


def randomized(model, seed=0):
    """Every parameter drawn from N(0, 1): no zeros before a perturbation (HF inits biases to zero)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator))
    return model


def gpt2(n_layer=2, seed=0):
    return randomized(tiny_gpt2(vocab_size=200, n_layer=n_layer, n_embd=64, n_head=2), seed)


def bert():
    return randomized(BertForSequenceClassification(BertConfig(
        vocab_size=100, hidden_size=32, num_hidden_layers=3, num_attention_heads=2, intermediate_size=64)).eval())


def xlm():
    return randomized(XLMForSequenceClassification(XLMConfig(vocab_size=100, emb_dim=32, n_layers=2, n_heads=2)).eval())


def options(kind):
    """What a kind needs beyond an amount: Wanda's calibration tokens."""
    return {'calibration': torch.arange(48).view(3, 16) % 100} if kind == 'wanda_pruning' else {}


def snapshot(model):
    return {name: tensor.clone() for name, tensor in model.state_dict().items()}


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


@pytest.mark.parametrize('scope', SCOPES)
def test_random_deletion_sparsity(scope):
    model = gpt2()
    with perturbed(model, 'random_deletion', 0.3, scope=scope, seed=1) as damage:
        assert damage.sparsity == pytest.approx(0.3, abs=0.02)
        zeros = sum(int((p == 0).sum()) for _, p in scoped_parameters(model, scope))
        assert damage.zeros == zeros and damage.numel == sum(p.numel() for _, p in scoped_parameters(model, scope))


@pytest.mark.parametrize('amount', [0.1, 0.5, 0.9])
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


@pytest.mark.parametrize('kind', KINDS)
def test_layers_honoured(kind):
    model = gpt2(n_layer=3)
    original = snapshot(model)
    amount = 0.5 if AMOUNT_RANGES[kind][1] else 0.2
    with perturbed(model, kind, amount, scope='blocks', layers=[1], **options(kind)):
        changed = {name for name, tensor in model.state_dict().items() if not torch.equal(tensor, original[name])}
    assert changed and all(name.startswith('transformer.h.1.') for name in changed)


@pytest.mark.parametrize('kind', KINDS)
@pytest.mark.parametrize('make', [gpt2, bert, xlm])
def test_restore_is_bit_exact(kind, make):
    model = make()
    original = snapshot(model)
    amount = 0.5 if AMOUNT_RANGES[kind][1] else 0.3
    with perturbed(model, kind, amount, scope='all', seed=7, **options(kind)):
        assert any(not torch.equal(t, original[n]) for n, t in model.state_dict().items())
    assert all(torch.equal(t, original[n]) for n, t in model.state_dict().items())
    with pytest.raises(RuntimeError):  # an error inside the block restores too
        with perturbed(model, kind, amount, scope='attn', seed=7, **options(kind)):
            raise RuntimeError
    assert all(torch.equal(t, original[n]) for n, t in model.state_dict().items())


def test_seeded_and_paired():
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


def test_amount_zero_changes_nothing():
    model = gpt2()
    original = snapshot(model)
    with perturbed(model, 'gaussian_noise', 0.0, scope='all') as damage:
        assert all(torch.equal(t, original[n]) for n, t in model.state_dict().items())
        assert damage.sparsity == 0


@pytest.mark.parametrize('kind,amount,scope,layers,message', [
    ('dropout', 0.1, 'attn', None, 'unknown kind'),
    ('random_deletion', 1.5, 'attn', None, 'outside'),
    ('gaussian_noise', -0.1, 'attn', None, 'outside'),
    ('random_deletion', 0.1, 'encoder', None, 'unknown scope'),
    ('random_deletion', 0.1, 'heads', None, 'selects no parameter'),
    ('random_deletion', 0.1, 'attn', [2], 'outside'),
])
def test_errors(kind, amount, scope, layers, message):
    with pytest.raises(ValueError, match=message):
        with perturbed(gpt2(), kind, amount, scope=scope, layers=layers):
            pass
