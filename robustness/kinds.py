"""The kinds of damage: one entry of `KINDS` each, with everything the project needs to know of it, beside the one
function that does it. Adding a kind is one entry and one function (docs/kinds.md shows how).

    kind = KINDS['random_deletion']
    kind.low, kind.high, kind.grid, kind.deterministic, kind.options, kind.label
    kind.apply(model, amount, generator, parameters, options)     # robustness.perturb.perturbed calls it

The kinds that damage a network's weights (`apply`; robustness.perturb.perturbed applies them in place and restores
the weights bit for bit):
- random_deletion: zero each weight with probability `amount`;
- magnitude_pruning: in each tensor, zero the fraction `amount` of entries with the smallest |w|;
- global_magnitude_pruning: the same with one threshold across all tensors in scope
  (as torch.nn.utils.prune.global_unstructured with L1Unstructured);
- gaussian_noise: add N(0, amount^2) to every weight;
- neuron_deletion: delete whole output units with probability `amount`, so that a deleted unit's output is exactly
  zero downstream. A neuron is, per layer type: an nn.Linear's output row and its bias entry; a GPT-2 Conv1D's
  output column and its bias entry, each of the 3 * n_embd outputs of the fused q|k|v `c_attn` a unit of its own; a
  Conv2d's output channel (its filter and bias) together with the channel of the BatchNorm that follows it (its scale
  and shift), which shares the conv's mask: the normalization would otherwise turn the zeroed channel into the
  constant -mean * scale / std + shift; a norm or bias vector elsewhere, entry by entry;
- head_deletion: delete each attention head of the blocks in scope with probability `amount`, by zeroing its
  slice of the inputs of the attention output projection: exactly that head's contribution goes, whatever the layout
  of q, k and v (fused, separate, grouped-query). The head size is the config's `head_dim`, or hidden size / heads;
- nm_pruning: N:M semi-structured magnitude pruning: in every group of `group` (option, default 4) consecutive
  weights along a matrix's input dimension, the round(amount * group) of smallest |w| are zeroed (amount 0.5 with
  group 4 is the 2:4 pattern of sparse tensor cores). Matrices only (a Conv2d's groups run along its input
  channels at each kernel position; a convolution whose input channels the group does not divide, such as a
  network's first, on 1 or 3 image channels, stays dense, as in NVIDIA's ASP); biases and norms are untouched;
- wanda_pruning: Wanda (Sun et al. 2023) as its reference code (locuslab/wanda, prune_wanda) runs it: score
  |W_ij| * ||X_j||_2, X_j the j-th input feature of that linear layer over the calibration tokens (option
  `calibration`, a LongTensor of windows x tokens); in each output row the fraction `amount` with the smallest
  scores is zeroed. Block by block: the inputs of block i come from blocks 0..i-1 already pruned, the norms of its
  layers from block i itself still unpruned, then it is pruned; layers in scope outside the blocks (an `all` scope's
  heads) come last, with every block pruned. Linear layers only (nn.Linear, GPT-2's Conv1D). The norms of block i
  come from a no-grad pass that stops where block i + 1 starts (robustness.hooks), so a level costs about half of
  (blocks + 1) calibration passes; nothing is cached, since every block's inputs depend on the level.
For the last three, the parameters they act on (`targets`) are fewer than the scope's: the output projections, the
matrices, the linear layers.

Two kinds damage something else, and are here for their grid, label and draws: multiplicative_noise (a linear
representation W (1 + sigma N), binary_classification.py) and distraction (random words inserted in a classifier's
inputs, run_glue_test.py).

Every random draw comes from a torch.Generator seeded by (kind, amount, seed, parameter or module name)
(robustness.perturb): a trial is reproducible, two models of the same architecture get the same masks (paired
comparisons), and a tensor's mask does not depend on what else is in scope. Thresholds are computed on the model's
device with torch.kthvalue (torch.quantile fails above 16M elements; GPT-2's wte has 38M).
"""

from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from robustness.config import fail
from robustness.hooks import hooked, partial_forward
from robustness.scopes import (ATTENTION_OUTPUTS, ATTENTION_WORDS, block_index, block_lists, head_size, is_linear,
                               output_axis, owners, rows)


@dataclass(frozen=True)
class Kind:
    """Everything the project knows of a kind of damage; the one place that decides it."""
    name: str
    apply: Callable | None  # (model, amount, seed generator, [(name, parameter)], options), in place;
    #                         None: not a network's weights
    low: float              # smallest valid amount
    high: float | None      # largest valid amount (None: no bound)
    deterministic: bool     # every draw of a level gives the same damage: measured once per level
    grid: str               # the scripts' level grid for it: 'levels' (fractions), 'noise_levels' (stds),
    #                         'distraction_levels'
    label: str              # its figures' x axis (each script names a kind's figure by the kind: gpt2_<kind>.png)
    # (model, parameters, options, scope) -> the parameters it changes, checked; None: all of the scope
    targets: Callable | None = None
    options: tuple = ()     # the perturb options it takes (`options_of`)
    on_heads: bool = False  # acts on attention heads: attn, blocks and all hold the same heads, so it is swept once
    on_conv_nets: bool = True  # applies to a conv net (non_linear.py): no heads or token windows needed
    same_on_one_tensor: str | None = None  # the kind it equals, mask for mask, on a scope of a single tensor
    on_matrix: Callable | None = None  # (W, amount, standard draws) -> the damaged copies of a linear representation W,
    #                                    one per draw (binary_classification.py); None: it does not apply to one
    sample: Callable | None = None  # torch.randn or torch.rand: on_matrix's standard draws; None: it takes none
    matrix_label: str = ''  # the x axis of binary_classification.py's figure, where on_matrix is given
    zeroes: bool = False  # it sets weights to zero: the sparsity it reaches is recorded

    def draws(self, repeats):
        """Draws of a damaged level: one for a deterministic kind."""
        return 1 if self.deterministic else repeats

    def options_of(self, group=4, calibration=None):
        """The perturb options this kind takes, from a script's settings: the N:M `group`, Wanda's `calibration`."""
        return {name: value for name, value in (('group', group), ('calibration', calibration)) if name in self.options}

    def check_amount(self, amount):
        if not (amount >= self.low and (self.high is None or amount <= self.high)):
            fail(f"{self.name}: amount {amount} is outside [{self.low}, {'inf' if self.high is None else self.high}]")


# ----------------------------------------------------------------------------- masks
def smallest_mask(scores, count):
    """Boolean mask of exactly `count` entries of the 1-D `scores` with the smallest values (ties: first ones)."""
    mask = torch.zeros_like(scores, dtype=torch.bool)
    if count <= 0:
        return mask
    threshold = scores.kthvalue(count).values
    mask = scores < threshold
    ties = (scores == threshold).nonzero().squeeze(1)[:count - int(mask.sum())]
    mask[ties] = True
    return mask


def smallest_per_row(scores, count):
    """Boolean mask of the `count` smallest entries of each row of the 2-D `scores` (ties: first ones)."""
    mask = torch.zeros_like(scores, dtype=torch.bool)
    return mask.scatter_(1, scores.argsort(dim=1, stable=True)[:, :count], True)


def uniform(generator, shape, device):
    return torch.rand(shape, generator=generator, device=device)


# ----------------------------------------------------------------------------- one function per kind
def random_deletion(model, amount, generator, parameters, options):
    for name, w in parameters:
        w.masked_fill_(uniform(generator(name), w.shape, w.device) < amount, 0)


def magnitude_pruning(model, amount, generator, parameters, options):
    for _, w in parameters:
        flat = w.view(-1)
        flat.masked_fill_(smallest_mask(flat.abs(), round(amount * flat.numel())), 0)


def global_magnitude_pruning(model, amount, generator, parameters, options):
    scores = torch.cat([w.detach().abs().flatten().to(parameters[0][1].device) for _, w in parameters])
    drop = smallest_mask(scores, round(amount * scores.numel()))
    for (_, w), mask in zip(parameters, drop.split([w.numel() for _, w in parameters])):
        w.view(-1).masked_fill_(mask.to(w.device), 0)


def gaussian_noise(model, amount, generator, parameters, options):
    for name, w in parameters:
        w.add_(torch.randn(w.shape, generator=generator(name), device=w.device, dtype=w.dtype), alpha=amount)


def conv_of_norm(model):
    """{BatchNorm module name: name of the Conv2d whose output channels it normalizes}: the BatchNorm that comes
    right after a Conv2d in the model's registration order, with as many features as the conv has output channels
    (torchvision's ResNets and non_linear.py's small ResNet register every conv before its norm)."""
    pairs, conv = {}, None
    for name, module in model.named_modules():
        if isinstance(module, nn.Conv2d):
            conv = (name, module.out_channels)
        elif isinstance(module, nn.modules.batchnorm._BatchNorm):
            if conv and module.num_features == conv[1]:
                pairs[name] = conv[0]
            conv = None
        elif next(module.parameters(recurse=False), None) is not None:
            conv = None  # another layer in between: this norm does not normalize that conv
    return pairs


def neuron_deletion(model, amount, generator, parameters, options):
    modules, shared = dict(model.named_modules()), conv_of_norm(model)
    by_module = {}
    for name, w in parameters:
        owner, _, attribute = name.rpartition('.')
        by_module.setdefault(owner, {})[attribute] = w
    for owner, owned in by_module.items():
        module = modules[owner]
        weight = getattr(module, 'weight', None)
        axis = output_axis(module) if weight is not None and weight.dim() > 1 else 0
        units = weight.shape[axis] if weight is not None else next(iter(owned.values())).shape[0]
        device = next(iter(owned.values())).device
        # a conv's norm draws its conv's mask: the filter and its normalization go together
        drop = uniform(generator(shared.get(owner, owner)), units, device) < amount
        for attribute, w in owned.items():
            # The weight along its unit axis; biases and layer-norm vectors entry by entry.
            along = axis if w is weight else 0
            if w.shape[along] != units:
                fail(f"neuron_deletion: cannot align {owner}.{attribute} {tuple(w.shape)} with {units} units")
            shape = [1] * w.dim()
            shape[along] = units
            w.masked_fill_(drop.view(shape), 0)


def check_inputs_divide(kind, weights, found, layout, size, what):
    """Every weight's inputs (the columns of `layout(module, weight)`) split into slices of `size`: a one-line error
    for the first that does not."""
    for name, w in weights:
        width = layout(found[name], w).shape[1]
        if width % size:
            fail(f"{kind}: {name} takes {width} inputs, not a multiple of {what} {size}")


def head_outputs(model, parameters, options, scope):
    """The attention output projections in scope (their weights), each taking a whole number of heads."""
    found = owners(model, parameters)
    outputs = [(name, w) for name, w in parameters if name.endswith('.weight') and
               name.split('.')[-2] in ATTENTION_OUTPUTS
               and any(part in ATTENTION_WORDS for part in name.split('.')[:-2]) and is_linear(found[name])]
    if not outputs:
        fail(f"head_deletion: scope {scope!r} holds no attention output projection of {type(model).__name__} (use "
             f"attn, blocks or all)")
    check_inputs_divide('head_deletion', outputs, found, rows, head_size(model, 'head_deletion'), 'the head size')
    return outputs


def head_deletion(model, amount, generator, parameters, options):
    found, size = owners(model, parameters), head_size(model, 'head_deletion')
    for name, w in parameters:
        inputs = rows(found[name], w)  # (outputs, inputs): a head is a slice of the inputs
        drop = uniform(generator(name.rpartition('.')[0]), inputs.shape[1] // size, w.device) < amount
        inputs.masked_fill_(drop.repeat_interleave(size)[None, :], 0)


def grouped(module, w):
    """A matrix as (outputs, inputs) with consecutive inputs adjacent (a view of a linear layer's weight; a copy of a
    convolution's, (out * kernel positions, in))."""
    if w.dim() > 2:
        return w.movedim(1, -1).reshape(-1, w.shape[1])
    return rows(module, w)


def nm_matrices(model, parameters, options, scope):
    """The matrices in scope whose inputs the group divides; a convolution on the image's 1 or 3 channels stays
    dense, as in NVIDIA's ASP; any other matrix must divide."""
    group = options.get('group', 4)
    if not isinstance(group, int) or group < 1:
        fail(f"nm_pruning: group {group!r} must be a positive integer")
    matrices = [(name, w) for name, w in parameters if w.dim() == 2 or w.dim() > 2 and w.shape[1] % group == 0]
    if not matrices:
        fail(f"nm_pruning: scope {scope!r} holds no weight matrix whose inputs groups of {group} divide")
    check_inputs_divide('nm_pruning', matrices, owners(model, matrices), grouped, group, 'the group')
    return matrices


def nm_pruning(model, amount, generator, parameters, options):
    group = options.get('group', 4)
    found = owners(model, parameters)
    for name, w in parameters:
        view = grouped(found[name], w)
        groups = view.reshape(-1, group)
        pruned = groups.masked_fill(smallest_per_row(groups.abs(), round(amount * group)), 0).reshape(view.shape)
        if w.dim() > 2:  # back from (out * k..., in) to (out, in, k...)
            w.copy_(pruned.reshape(w.shape[0], *w.shape[2:], w.shape[1]).movedim(-1, 1))
        else:
            view.copy_(pruned)


def linear_owners(model, parameters):
    """{parameter name: the linear layer whose weight it is} of `parameters`: by the tensor itself, so that a tied
    weight (GPT-2's wte, which is also lm_head's) is the linear layer's too."""
    layers = {id(module.weight): module for module in model.modules() if is_linear(module)}
    return {name: layers[id(w)] for name, w in parameters if id(w) in layers}


def linear_layers(model, parameters, options, scope):
    """The weights of the linear layers in scope, after checking Wanda's calibration windows."""
    calibration = options.get('calibration')
    if not isinstance(calibration, torch.Tensor) or calibration.dtype != torch.long or calibration.dim() != 2 \
            or calibration.numel() == 0:
        fail("wanda_pruning: needs calibration=input_ids, a non-empty LongTensor (windows x tokens)")
    found = linear_owners(model, parameters)
    linears = [(name, w) for name, w in parameters if name in found]
    if not linears:
        fail(f"wanda_pruning: scope {scope!r} holds no linear layer of {type(model).__name__}")
    return linears


def input_norms(model, calibration, modules, stop_at=(), batch_size=8):
    """{module: ||X_j||_2 over every calibration token, per input feature j} of the linear `modules`, from a no-grad
    pass that ends where any module of `stop_at` starts."""
    sums = {}

    def record(module, inputs, output):
        x = inputs[0].detach().float()
        squares = x.pow(2).reshape(-1, x.shape[-1]).sum(0)
        sums[module] = sums[module] + squares if module in sums else squares

    training, device = model.training, next(model.parameters()).device
    try:
        model.eval()
        with hooked(record=dict.fromkeys(modules, record), stop_before=stop_at):
            for start in range(0, len(calibration), batch_size):
                partial_forward(model, input_ids=calibration[start:start + batch_size].to(device))
    finally:
        model.train(training)
    return {module: total.sqrt() for module, total in sums.items()}


def wanda_pruning(model, amount, generator, parameters, options):
    lists, found = block_lists(model), linear_owners(model, parameters)
    by_block = {}  # block index (None: outside the blocks, last) -> [linear modules in scope]
    for name, _ in parameters:
        by_block.setdefault(block_index(name, lists), []).append(found[name])
    for block in sorted(by_block, key=lambda b: (b is None, b)):
        following = [] if block is None else [blocks[block + 1] for blocks in lists.values() if block + 1 < len(blocks)]
        norms = input_norms(model, options['calibration'], by_block[block], following)
        for module in by_block[block]:
            weights = rows(module, module.weight)  # (outputs, inputs)
            scores = weights.abs().float() * norms[module].to(weights.device)[None, :]
            weights.masked_fill_(smallest_per_row(scores, round(amount * weights.shape[1])), 0)


# ----------------------------------------------------------------------------- a linear representation's copies
# binary_classification.py damages a matrix W (k x n) against a stack of standard draws (robustness.linear), the same
# draws at every amount: the random kinds threshold or scale them, magnitude pruning takes none and gives one copy.
def delete_entries(W, amount, draws):
    return W.masked_fill(draws < amount, 0.0)


def prune_entries(W, amount, draws):
    return W.masked_fill(smallest_mask(W.abs().flatten(), round(amount * W.numel())).view_as(W), 0.0)[None]


def add_noise(W, amount, draws):
    return W + amount * draws


def scale_by_noise(W, amount, draws):
    return W * (1 + amount * draws)


# ----------------------------------------------------------------------------- the registry
KINDS = {kind.name: kind for kind in (
    Kind('random_deletion', random_deletion, 0.0, 1.0, False, 'levels', 'Random weight deletion probability',
         zeroes=True, on_matrix=delete_entries, sample=torch.rand, matrix_label='Deletion probability p'),
    Kind('magnitude_pruning', magnitude_pruning, 0.0, 1.0, True, 'levels',
         'Magnitude pruning fraction (smallest |w| per tensor)', zeroes=True, on_matrix=prune_entries,
         matrix_label='Fraction pruned p (smallest |w|)'),
    Kind('global_magnitude_pruning', global_magnitude_pruning, 0.0, 1.0, True, 'levels',
         'Global magnitude pruning fraction (smallest |w| overall)', same_on_one_tensor='magnitude_pruning',
         zeroes=True),
    Kind('gaussian_noise', gaussian_noise, 0.0, None, False, 'noise_levels', 'Weight noise std',
         on_matrix=add_noise, sample=torch.randn, matrix_label='Noise σ (W + σN)'),
    Kind('neuron_deletion', neuron_deletion, 0.0, 1.0, False, 'levels', 'Neuron (channel) deletion probability',
         zeroes=True),
    Kind('head_deletion', head_deletion, 0.0, 1.0, False, 'levels', 'Attention head deletion probability',
         targets=head_outputs, on_heads=True, on_conv_nets=False, zeroes=True),
    Kind('nm_pruning', nm_pruning, 0.0, 1.0, True, 'levels', 'N:M pruning fraction (groups along the inputs)',
         targets=nm_matrices, options=('group',), zeroes=True),
    Kind('wanda_pruning', wanda_pruning, 0.0, 1.0, True, 'levels', 'Wanda pruning fraction (per output row)',
         targets=linear_layers, on_conv_nets=False, options=('calibration',), zeroes=True),
    Kind('multiplicative_noise', None, 0.0, None, False, 'noise_levels', 'Multiplicative noise std',
         on_conv_nets=False, on_matrix=scale_by_noise, sample=torch.randn, matrix_label='Noise σ (W ⊙ (1 + σN))'),
    Kind('distraction', None, 0.0, None, False, 'distraction_levels', 'Inserted words per word', on_conv_nets=False),
)}


# The kinds each script takes, read from KINDS when asked: a kind registered later (a test's) is one of them.
def weight_kinds():
    """The kinds that damage a network's weights (robustness.perturb.perturbed applies them)."""
    return tuple(name for name, kind in KINDS.items() if kind.apply is not None)


def conv_kinds():
    """The weight kinds that apply to a conv net (non_linear.py)."""
    return tuple(name for name in weight_kinds() if KINDS[name].on_conv_nets)


def linear_kinds():
    """The kinds that damage a linear representation (binary_classification.py)."""
    return tuple(name for name, kind in KINDS.items() if kind.on_matrix is not None)
