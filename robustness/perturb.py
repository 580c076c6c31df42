"""Weight perturbations of a model, in place, restored bit for bit on exit.

    with perturbed(model, 'random_deletion', 0.2, scope='attn', seed=3) as damage:
        loss = evaluate(model)        # the model with 20% of its attention weights zeroed
        damage.sparsity               # the fraction of zeros actually in scope
    # the model is exactly as before

Kinds (`KINDS`; `AMOUNT_RANGES` gives the valid amounts of each):
- random_deletion: zero each weight with probability `amount`;
- magnitude_pruning: in each tensor, zero the fraction `amount` of entries with the smallest |w|;
- global_magnitude_pruning: the same with one threshold across all tensors in scope
  (as torch.nn.utils.prune.global_unstructured with L1Unstructured);
- gaussian_noise: add N(0, amount^2) to every weight;
- neuron_deletion: zero whole output units with probability `amount` (a row of an nn.Linear weight, a
  column of a GPT-2 Conv1D weight, which is stored (in, out), and the unit's bias). Each of the
  3 * n_embd outputs of GPT-2's fused q|k|v `c_attn` is a unit of its own.

Scopes (`SCOPES`), by parameter name, so that the same words work for GPT-2, BERT and XLM:
- attn: every parameter whose name contains "attn" or "attention" (weights and biases; the paper's
  probe was every GPT-2 parameter whose name contains "attn"); BERT's attention.output.LayerNorm too;
- mlp: the feed-forward sublayer: GPT-2 `mlp`, BERT `intermediate` and `output.dense`, XLM `ffns`;
- blocks: every parameter of the transformer blocks (weights, biases, layer norms);
- all: every parameter of the model, embeddings and heads included; a tied weight (GPT-2's
  lm_head and wte) counts once.
`layers` restricts any scope to the parameters of the chosen transformer blocks (0-based).

Scopes of a network made of a `backbone` and task `heads` submodules (`CONV_SCOPES`; non_linear.py's
ResNet with one head per task): backbone, heads, all. neuron_deletion there deletes whole output channels
of a Conv2d (its filter and bias, and the matching BatchNorm scale and shift), rows of a Linear.

The transformer blocks are the model's ModuleLists with one entry per layer (GPT-2 `transformer.h`,
BERT `encoder.layer`; XLM keeps four parallel lists, `attentions`, `ffns`, `layer_norm1/2`).
Every draw comes from a torch.Generator seeded by (kind, amount, seed, parameter name): a trial is
reproducible, two models with the same architecture get the same masks (paired comparisons), and a
tensor's mask does not depend on what else is in scope. Thresholds are computed on the model's
device with torch.kthvalue (torch.quantile fails above 16M elements; GPT-2's wte has 38M).
"""

import contextlib
import hashlib
import re
from dataclasses import dataclass, field

import torch
from torch import nn

KINDS = ('random_deletion', 'magnitude_pruning', 'global_magnitude_pruning', 'gaussian_noise', 'neuron_deletion')
SCOPES = ('attn', 'mlp', 'blocks', 'all')
CONV_SCOPES = ('backbone', 'heads', 'all')
# Valid amounts per kind: a probability or a fraction in [0, 1]; a noise std >= 0 (None: no bound).
AMOUNT_RANGES = {'random_deletion': (0.0, 1.0), 'magnitude_pruning': (0.0, 1.0),
                 'global_magnitude_pruning': (0.0, 1.0), 'gaussian_noise': (0.0, None),
                 'neuron_deletion': (0.0, 1.0)}


@dataclass
class Perturbation:
    """What a `perturbed` block did: the parameters it touched and the sparsity it reached."""
    kind: str
    amount: float
    names: list = field(default_factory=list)  # parameters in scope
    numel: int = 0                              # their number of entries
    zeros: int = 0                              # entries equal to zero after the perturbation

    @property
    def sparsity(self):
        return self.zeros / self.numel if self.numel else 0.0


def block_lists(model):
    """{name: ModuleList} of the model's per-layer module lists (the transformer blocks)."""
    lists = {name: module for name, module in model.named_modules() if isinstance(module, nn.ModuleList)}
    n_layers = getattr(getattr(model, 'config', None), 'num_hidden_layers', None)
    if n_layers is None and lists:
        n_layers = max(len(module) for module in lists.values())
    lists = {name: module for name, module in lists.items() if len(module) == n_layers}
    # Keep the outermost lists only (a block could itself hold a ModuleList of the same length).
    return {name: module for name, module in lists.items()
            if not any(name.startswith(other + '.') for other in lists if other != name)}


def num_layers(model):
    lists = block_lists(model)
    return len(next(iter(lists.values()))) if lists else 0


def _block_index(name, lists):
    """The transformer block a parameter belongs to, or None outside the blocks."""
    for prefix in lists:
        match = re.match(re.escape(prefix) + r'\.(\d+)\.', name)
        if match:
            return int(match.group(1))
    return None


def _in_scope(name, scope, block):
    if scope == 'all':
        return True
    if scope in ('backbone', 'heads'):
        return name.split('.')[0] == scope
    if block is None:
        return False
    parts = name.split('.')
    if scope == 'attn':
        return any('attn' in part or 'attention' in part for part in parts)
    if scope == 'mlp':
        return (any(part in ('mlp', 'intermediate', 'ffn', 'ffns') for part in parts)
                or ('output.dense.' in name and 'attention' not in name))
    return True  # blocks


def scoped_parameters(model, scope='attn', layers=None):
    """[(name, parameter)] that `perturbed(model, kind, amount, scope, layers=layers)` touches."""
    valid = dict.fromkeys(SCOPES + CONV_SCOPES)
    if scope not in valid:
        raise ValueError(f"unknown scope {scope!r}; valid: {', '.join(valid)}")
    lists = block_lists(model)
    if layers is not None and len(layers):
        count = num_layers(model)
        bad = [layer for layer in layers if not 0 <= layer < count]
        if bad:
            raise ValueError(f"layers {bad} are outside the model's {count} transformer blocks (0..{count - 1})")
    chosen = []
    for name, parameter in model.named_parameters():  # shared (tied) parameters come once
        block = _block_index(name, lists)
        if layers is not None and len(layers) and block not in layers:
            continue
        if _in_scope(name, scope, block):
            chosen.append((name, parameter))
    if not chosen:
        raise ValueError(f"scope {scope!r} with layers {layers} selects no parameter of {type(model).__name__}")
    return chosen


def _generator(device, *key):
    """A generator seeded by a stable hash of `key` (Python's hash() changes between runs)."""
    digest = hashlib.sha256('|'.join(map(repr, key)).encode()).digest()
    return torch.Generator(device=device).manual_seed(int.from_bytes(digest[:8], 'little') >> 1)


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


def _unit_axis(module, weight):
    """The axis of a module's weight that indexes its output units."""
    if type(module).__name__ == 'Conv1D' or isinstance(module, nn.Embedding):
        return 1  # HF Conv1D stores (in, out); an embedding's units are its features
    return 0


@contextlib.contextmanager
def perturbed(model, kind, amount, scope='attn', seed=0, layers=None):
    """Perturb the parameters in scope in place; on exit restore them bit for bit. Yields a Perturbation."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; valid: {', '.join(KINDS)}")
    low, high = AMOUNT_RANGES[kind]
    if not (amount >= low and (high is None or amount <= high)):
        raise ValueError(f"{kind}: amount {amount} is outside [{low}, {'inf' if high is None else high}]")
    parameters = scoped_parameters(model, scope, layers)
    info = Perturbation(kind, amount, [name for name, _ in parameters])
    saved = []
    try:
        with torch.no_grad():
            # Copies of exactly the tensors about to change (nothing changes at amount 0).
            if amount > 0:
                saved = [(parameter, parameter.detach().clone()) for _, parameter in parameters]
                _apply(model, kind, amount, seed, parameters)
            info.numel = sum(parameter.numel() for _, parameter in parameters)
            info.zeros = int(sum((parameter == 0).sum() for _, parameter in parameters))  # one device sync
        yield info
    finally:
        with torch.no_grad():
            for parameter, original in saved:
                parameter.copy_(original)


def _apply(model, kind, amount, seed, parameters):
    if kind == 'random_deletion':
        for name, w in parameters:
            drop = torch.rand(w.shape, generator=_generator(w.device, kind, amount, seed, name), device=w.device) < amount
            w.masked_fill_(drop, 0)
    elif kind == 'gaussian_noise':
        for name, w in parameters:
            noise = torch.randn(w.shape, generator=_generator(w.device, kind, amount, seed, name), device=w.device, dtype=w.dtype)
            w.add_(noise, alpha=amount)
    elif kind == 'magnitude_pruning':
        for _, w in parameters:
            flat = w.view(-1)
            flat.masked_fill_(smallest_mask(flat.abs(), round(amount * flat.numel())), 0)
    elif kind == 'global_magnitude_pruning':
        scores = torch.cat([w.detach().abs().flatten().to(parameters[0][1].device) for _, w in parameters])
        drop = smallest_mask(scores, round(amount * scores.numel()))
        for (_, w), mask in zip(parameters, drop.split([w.numel() for _, w in parameters])):
            w.view(-1).masked_fill_(mask.to(w.device), 0)
    elif kind == 'neuron_deletion':
        modules = dict(model.named_modules())
        by_module = {}
        for name, w in parameters:
            owner, _, attribute = name.rpartition('.')
            by_module.setdefault(owner, {})[attribute] = w
        for owner, owned in by_module.items():
            module = modules[owner]
            weight = getattr(module, 'weight', None)
            axis = _unit_axis(module, weight) if weight is not None and weight.dim() > 1 else 0
            units = weight.shape[axis] if weight is not None else next(iter(owned.values())).shape[0]
            device = next(iter(owned.values())).device
            drop = torch.rand(units, generator=_generator(device, kind, amount, seed, owner), device=device) < amount
            for attribute, w in owned.items():
                # The weight along its unit axis; biases and layer-norm vectors entry by entry.
                along = axis if w is weight else 0
                if w.shape[along] != units:
                    raise ValueError(f"neuron_deletion: cannot align {owner}.{attribute} {tuple(w.shape)} with {units} units")
                shape = [1] * w.dim()
                shape[along] = units
                w.masked_fill_(drop.view(shape), 0)
