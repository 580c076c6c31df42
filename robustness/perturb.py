"""Weight perturbations of a model, in place, restored bit for bit on exit.

    with perturbed(model, 'random_deletion', 0.2, scope='attn', seed=3) as damage:
        loss = evaluate(model)        # the model with 20% of its attention weights zeroed
        damage.sparsity               # the fraction of zeros actually in scope
    # the model is exactly as before

Kinds, from one table (`KIND_TABLE`: each kind's amount range, whether it is deterministic, which level grid
of a script it takes; `KINDS` and `AMOUNT_RANGES` are read from it):
- random_deletion: zero each weight with probability `amount`;
- magnitude_pruning: in each tensor, zero the fraction `amount` of entries with the smallest |w|;
- global_magnitude_pruning: the same with one threshold across all tensors in scope
  (as torch.nn.utils.prune.global_unstructured with L1Unstructured);
- gaussian_noise: add N(0, amount^2) to every weight;
- neuron_deletion: delete whole output units with probability `amount`, so that a deleted unit's output is exactly
  zero downstream. A neuron is, per layer type: an nn.Linear's output row and its bias entry; a GPT-2 Conv1D's
  output column (it stores (in, out)) and its bias entry, each of the 3 * n_embd outputs of the fused q|k|v `c_attn`
  a unit of its own; a Conv2d's output channel (its filter and bias) together with the channel of the BatchNorm that
  follows it (its scale and shift), which shares the conv's mask: the normalization would otherwise turn the zeroed
  channel into the constant -mean * scale / std + shift; a norm or bias vector elsewhere, entry by entry;
- head_deletion: delete each attention head of the blocks in scope with probability `amount`, by zeroing its
  slice of the input side of the attention output projection (rows of GPT-2's Conv1D `c_proj`, columns of an
  nn.Linear `o_proj`/`out_proj`/`dense`/`out_lin`): exactly that head's contribution goes, whatever the layout of
  q, k and v (fused, separate, grouped-query). The head size is the config's `head_dim`, or hidden size / heads;
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
  come from a no-grad pass with forward hooks that stops where block i + 1 starts, so a level costs about half of
  (blocks + 1) calibration passes; nothing is cached, since every block's inputs depend on the level.
For the last three, `Perturbation.names` and `sparsity` cover the tensors the kind acts on (the output
projections, the matrices), not the biases and norms of the scope that it leaves alone.

Scopes (`SCOPES`), by the module names on a parameter's path, with one meaning in every family (`sublayer`):
- attn: the attention sublayer: its q, k, v and output projections (fused or separate) with their biases, and any
  norm inside it (Qwen3's q_norm and k_norm). The module is `attn` (GPT-2, ModernBERT), `attention` (GPT-NeoX, BERT,
  RoBERTa, XLM-R, DistilBERT, DeBERTa), `self_attn` (Llama, Mistral, Qwen, Gemma, OPT, XGLM), `self_attention`
  (BLOOM, Falcon) or XLM's list `attentions`. Not the norms before or after it (ln_1, input_layernorm,
  post_attention_layernorm, self_attn_layer_norm, attn_norm, sa_layer_norm), not even BERT's post-attention
  attention.output.LayerNorm, which BERT-style encoders keep inside the attention module. The paper's probe was
  every GPT-2 parameter whose name contains "attn": for GPT-2 that is the same set;
- mlp: the feed-forward sublayer, gated or not: `mlp` (c_fc/c_proj, gate/up/down_proj, dense_h_to_4h/dense_4h_to_h,
  Wi/Wo), `ffn` (DistilBERT lin1/lin2), XLM's list `ffns`, BERT's `intermediate` and `output` (its output.LayerNorm
  excepted, as above), OPT's and XGLM's `fc1`/`fc2`, which sit in the block itself;
- blocks: every parameter of the transformer blocks (weights, biases, norms);
- all: every parameter of the model, embeddings and heads included; a tied weight (GPT-2's
  lm_head and wte) counts once.
`layers` restricts any scope to the parameters of the chosen transformer blocks (0-based).

Scopes of a network made of a `backbone` and task `heads` submodules (`CONV_SCOPES`; non_linear.py's
ResNet with one head per task): backbone, heads, all.

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
from transformers.pytorch_utils import Conv1D

from robustness.config import fail


@dataclass(frozen=True)
class Kind:
    """Everything the scripts need to know of a kind of damage; the one place that decides it."""
    low: float              # smallest valid amount
    high: float | None      # largest valid amount (None: no bound)
    deterministic: bool     # every draw of a level gives the same damage: measured once per level
    grid: str               # the scripts' level grid for it: 'levels' (fractions) or 'noise_levels' (stds)
    on_heads: bool = False  # acts on attention heads: attn, blocks and all hold the same heads, so it is swept once
    on_conv_nets: bool = True  # applies to a conv net (non_linear.py): no heads or token windows needed
    options: tuple = ()     # the perturb options it takes (`kind_options`)
    same_on_one_tensor: str | None = None  # the kind it equals, mask for mask, on a scope of a single tensor


KIND_TABLE = {
    'random_deletion': Kind(0.0, 1.0, False, 'levels'),
    'magnitude_pruning': Kind(0.0, 1.0, True, 'levels'),
    'global_magnitude_pruning': Kind(0.0, 1.0, True, 'levels', same_on_one_tensor='magnitude_pruning'),
    'gaussian_noise': Kind(0.0, None, False, 'noise_levels'),
    'neuron_deletion': Kind(0.0, 1.0, False, 'levels'),
    'head_deletion': Kind(0.0, 1.0, False, 'levels', on_heads=True, on_conv_nets=False),
    'nm_pruning': Kind(0.0, 1.0, True, 'levels', options=('group',)),
    'wanda_pruning': Kind(0.0, 1.0, True, 'levels', on_conv_nets=False, options=('calibration',)),
}
KINDS = tuple(KIND_TABLE)
CONV_KINDS = tuple(name for name, kind in KIND_TABLE.items() if kind.on_conv_nets)
AMOUNT_RANGES = {name: (kind.low, kind.high) for name, kind in KIND_TABLE.items()}


def kind_options(kind, group=4, calibration=None):
    """The perturb options that `kind` takes, from a script's settings: the N:M `group`, Wanda's `calibration`."""
    return {name: value for name, value in (('group', group), ('calibration', calibration))
            if name in KIND_TABLE[kind].options}


SCOPES = ('attn', 'mlp', 'blocks', 'all')
HEAD_SCOPES = ('attn', 'blocks', 'all')  # the scopes that hold every attention head of the blocks
CONV_SCOPES = ('backbone', 'heads', 'all')
# The last name of an attention sublayer's output projection, across families (GPT-2 c_proj, Llama/Mistral/Qwen
# o_proj, OPT/XGLM/BART out_proj, BERT/BLOOM/Falcon/GPT-NeoX dense, XLM/DistilBERT out_lin, ModernBERT Wo).
ATTENTION_OUTPUTS = ('c_proj', 'o_proj', 'out_proj', 'dense', 'out_lin', 'Wo')
# The module names of the attention sublayer and of the feed-forward sublayer, across families. `output` is BERT's
# feed-forward output (encoder.layer.N.output.dense); inside the attention module the attention word comes first.
ATTENTION_WORDS = ('attn', 'attention', 'attentions', 'self_attn', 'self_attention')
MLP_WORDS = ('mlp', 'ffn', 'ffns', 'intermediate', 'output', 'fc1', 'fc2')


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


def sublayer(name):
    """'attn', 'mlp' or None: the sublayer of a block that a parameter belongs to, by the module names on its path.
    A norm applied to the residual stream after a sublayer is in neither, even where the family keeps it inside
    the sublayer's module (BERT's attention.output.LayerNorm and output.LayerNorm)."""
    parts = name.split('.')
    owner, parent = parts[-2] if len(parts) > 1 else '', parts[-3] if len(parts) > 2 else ''
    if 'norm' in owner.lower() and parent == 'output':
        return None
    if any(part in ATTENTION_WORDS for part in parts):
        return 'attn'
    if any(part in MLP_WORDS for part in parts):
        return 'mlp'
    return None


def _in_scope(name, scope, block):
    if scope == 'all':
        return True
    if scope in ('backbone', 'heads'):
        return name.split('.')[0] == scope
    if block is None:
        return False
    return scope == 'blocks' or sublayer(name) == scope


def scoped_parameters(model, scope='attn', layers=None):
    """[(name, parameter)] that `perturbed(model, kind, amount, scope, layers=layers)` touches."""
    valid = dict.fromkeys(SCOPES + CONV_SCOPES)
    if scope not in valid:
        fail(f"unknown scope {scope!r}; valid: {', '.join(valid)}")
    lists = block_lists(model)
    if not lists and scope in ('attn', 'mlp', 'blocks'):
        fail(f"scope {scope!r}: cannot find the transformer blocks of {type(model).__name__} (a "
                         f"ModuleList with one entry per layer)")
    if layers is not None and len(layers):
        count = num_layers(model)
        bad = [layer for layer in layers if not 0 <= layer < count]
        if bad:
            fail(f"layers {bad} are outside the model's {count} transformer blocks (0..{count - 1})")
    chosen = []
    for name, parameter in model.named_parameters():  # shared (tied) parameters come once
        block = _block_index(name, lists)
        if layers is not None and len(layers) and block not in layers:
            continue
        if _in_scope(name, scope, block):
            chosen.append((name, parameter))
    if not chosen:
        fail(f"scope {scope!r} with layers {layers} selects no parameter of {type(model).__name__}")
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


def _check_amount(kind, amount):
    if kind not in KIND_TABLE:
        fail(f"unknown kind {kind!r}; valid: {', '.join(KINDS)}")
    low, high = AMOUNT_RANGES[kind]
    if not (amount >= low and (high is None or amount <= high)):
        fail(f"{kind}: amount {amount} is outside [{low}, {'inf' if high is None else high}]")


def _linear_weights(model, parameters):
    """{parameter name: module} for the nn.Linear / Conv1D layers whose weight is among `parameters`."""
    owners = {id(module.weight): module for module in model.modules() if isinstance(module, (nn.Linear, Conv1D))}
    return {name: owners[id(w)] for name, w in parameters if id(w) in owners}


def _head_size(model, kind):
    config = getattr(model, 'config', None)
    size = getattr(config, 'head_dim', None)
    if not size and getattr(config, 'num_attention_heads', None) and getattr(config, 'hidden_size', None):
        size = config.hidden_size // config.num_attention_heads
    if not size:
        fail(f"{kind}: cannot read the head size of {type(model).__name__} from its config "
                         f"(head_dim, or hidden_size and num_attention_heads)")
    return int(size)


def _targets(model, kind, scope, layers, options):
    """[(name, parameter)] that `kind` changes in scope, after checking its options; raises ValueError."""
    parameters = scoped_parameters(model, scope, layers)
    allowed = set(KIND_TABLE[kind].options)
    unknown = set(options) - allowed
    if unknown:
        fail(f"{kind}: unknown option {', '.join(sorted(unknown))}"
                         + (f"; valid: {', '.join(sorted(allowed))}" if allowed else ''))
    if kind == 'head_deletion':
        modules = dict(model.named_modules())
        outputs = [(name, w) for name, w in parameters if name.endswith('.weight') and
                   name.split('.')[-2] in ATTENTION_OUTPUTS and
                   any(part in ATTENTION_WORDS for part in name.split('.')[:-2]) and
                   isinstance(modules[name.rpartition('.')[0]], (nn.Linear, Conv1D))]
        if not outputs:
            fail(f"head_deletion: scope {scope!r} holds no attention output projection of "
                             f"{type(model).__name__} (use attn, blocks or all)")
        size = _head_size(model, kind)
        for name, w in outputs:
            width = w.shape[0] if isinstance(modules[name.rpartition('.')[0]], Conv1D) else w.shape[1]
            if width % size:
                fail(f"head_deletion: {name} takes {width} inputs, not a multiple of the head size {size}")
        return outputs
    if kind == 'nm_pruning':
        group = options.get('group', 4)
        if not isinstance(group, int) or group < 1:
            fail(f"nm_pruning: group {group!r} must be a positive integer")
        # A convolution whose input channels the group does not divide (the image's 1 or 3 channels) stays dense, as
        # in NVIDIA's ASP; any other matrix must divide.
        matrices = [(name, w) for name, w in parameters if w.dim() == 2 or w.dim() > 2 and w.shape[1] % group == 0]
        if not matrices:
            fail(f"nm_pruning: scope {scope!r} holds no weight matrix whose inputs groups of {group} divide")
        modules = dict(model.named_modules())
        for name, w in matrices:
            width = _nm_view(modules, name, w).shape[1]
            if width % group:
                fail(f"nm_pruning: group {group} does not divide the {width} inputs of {name}")
        return matrices
    if kind == 'wanda_pruning':
        calibration = options.get('calibration')
        if not isinstance(calibration, torch.Tensor) or calibration.dtype != torch.long or calibration.dim() != 2 \
                or calibration.numel() == 0:
            fail("wanda_pruning: needs calibration=input_ids, a non-empty LongTensor (windows x tokens)")
        linears = _linear_weights(model, parameters)
        if not linears:
            fail(f"wanda_pruning: scope {scope!r} holds no linear layer of {type(model).__name__}")
        return [(name, w) for name, w in parameters if name in linears]
    return parameters


def check_kind(model, kind, amount, scope='attn', layers=None, **options):
    """Raise ValueError (one line) if `perturbed(model, kind, amount, scope, layers=layers, **options)` would; touches
    no value, so a model built on the meta device will do (the scripts check every setting before any work)."""
    _check_amount(kind, amount)
    _targets(model, kind, scope, layers, options)


@contextlib.contextmanager
def perturbed(model, kind, amount, scope='attn', seed=0, layers=None, **options):
    """Perturb the parameters in scope in place; on exit restore them bit for bit. Yields a Perturbation.
    Options: `group` (nm_pruning), `calibration` (wanda_pruning)."""
    _check_amount(kind, amount)
    parameters = _targets(model, kind, scope, layers, options)
    info = Perturbation(kind, amount, [name for name, _ in parameters])
    saved = []
    try:
        with torch.no_grad():
            # Copies of exactly the tensors about to change (nothing changes at amount 0).
            if amount > 0:
                saved = [(parameter, parameter.detach().clone()) for _, parameter in parameters]
                _APPLY[kind](model, amount, seed, parameters, options)
            info.numel = sum(parameter.numel() for _, parameter in parameters)
            info.zeros = int(sum((parameter == 0).sum() for _, parameter in parameters))  # one device sync
        yield info
    finally:
        with torch.no_grad():
            for parameter, original in saved:
                parameter.copy_(original)


def _nm_view(modules, name, w):
    """A view or copy of matrix `w` (parameter `name`; `modules` the model's named modules) as (outputs, inputs),
    with consecutive inputs adjacent."""
    module = modules.get(name.rpartition('.')[0])
    if isinstance(module, Conv1D):
        return w.t()                      # stored (in, out)
    if w.dim() > 2:
        return w.movedim(1, -1).reshape(-1, w.shape[1])  # conv (out, in, k...): groups along input channels
    return w


class _Stop(Exception):
    """Raised by a pre-hook where the next block starts: the calibration pass has what it needs."""


def input_norms(model, calibration, modules, stop_at=(), batch_size=8):
    """{module: ||X_j||_2 over every calibration token, per input feature j} of the linear `modules`, from a no-grad
    pass with forward hooks that ends where any module of `stop_at` starts."""
    sums = {}

    def record(module, inputs, output):
        x = inputs[0].detach().float()
        squares = x.pow(2).reshape(-1, x.shape[-1]).sum(0)
        sums[module] = sums[module] + squares if module in sums else squares

    def stop(module, inputs):
        raise _Stop

    hooks = [module.register_forward_hook(record) for module in modules]
    hooks += [module.register_forward_pre_hook(stop) for module in stop_at]
    training = model.training
    device = next(model.parameters()).device
    try:
        model.eval()
        for start in range(0, len(calibration), batch_size):
            try:
                model(input_ids=calibration[start:start + batch_size].to(device))
            except _Stop:
                pass
    finally:
        for hook in hooks:
            hook.remove()
        model.train(training)
    return {module: total.sqrt() for module, total in sums.items()}


# One function per kind: (model, amount, seed, [(name, parameter)] in scope, options), in place, under no_grad.
def _random_deletion(model, amount, seed, parameters, options):
    for name, w in parameters:
        generator = _generator(w.device, 'random_deletion', amount, seed, name)
        w.masked_fill_(torch.rand(w.shape, generator=generator, device=w.device) < amount, 0)


def _gaussian_noise(model, amount, seed, parameters, options):
    for name, w in parameters:
        generator = _generator(w.device, 'gaussian_noise', amount, seed, name)
        w.add_(torch.randn(w.shape, generator=generator, device=w.device, dtype=w.dtype), alpha=amount)


def _magnitude_pruning(model, amount, seed, parameters, options):
    for _, w in parameters:
        flat = w.view(-1)
        flat.masked_fill_(smallest_mask(flat.abs(), round(amount * flat.numel())), 0)


def _global_magnitude_pruning(model, amount, seed, parameters, options):
    scores = torch.cat([w.detach().abs().flatten().to(parameters[0][1].device) for _, w in parameters])
    drop = smallest_mask(scores, round(amount * scores.numel()))
    for (_, w), mask in zip(parameters, drop.split([w.numel() for _, w in parameters])):
        w.view(-1).masked_fill_(mask.to(w.device), 0)


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


def _neuron_deletion(model, amount, seed, parameters, options):
    modules, shared = dict(model.named_modules()), conv_of_norm(model)
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
        # a conv's norm draws its conv's mask: the filter and its normalization go together
        key = shared.get(owner, owner)
        drop = torch.rand(units, generator=_generator(device, 'neuron_deletion', amount, seed, key), device=device) < amount
        for attribute, w in owned.items():
            # The weight along its unit axis; biases and layer-norm vectors entry by entry.
            along = axis if w is weight else 0
            if w.shape[along] != units:
                fail(f"neuron_deletion: cannot align {owner}.{attribute} {tuple(w.shape)} with {units} units")
            shape = [1] * w.dim()
            shape[along] = units
            w.masked_fill_(drop.view(shape), 0)


def _head_deletion(model, amount, seed, parameters, options):
    modules, size = dict(model.named_modules()), _head_size(model, 'head_deletion')
    for name, w in parameters:
        owner = name.rpartition('.')[0]
        axis = 0 if isinstance(modules[owner], Conv1D) else 1  # the input side of the projection
        heads = w.shape[axis] // size
        generator = _generator(w.device, 'head_deletion', amount, seed, owner)
        drop = torch.rand(heads, generator=generator, device=w.device) < amount
        shape = [1, 1]
        shape[axis] = w.shape[axis]
        w.masked_fill_(drop.repeat_interleave(size).view(shape), 0)


def _nm_pruning(model, amount, seed, parameters, options):
    group = options.get('group', 4)
    count = round(amount * group)
    modules = dict(model.named_modules())
    for name, w in parameters:
        view = _nm_view(modules, name, w)
        groups = view.reshape(-1, group)
        drop = torch.zeros_like(groups, dtype=torch.bool)
        drop.scatter_(1, groups.abs().argsort(dim=1, stable=True)[:, :count], True)
        pruned = groups.masked_fill(drop, 0).reshape(view.shape)
        if w.dim() > 2:  # back from (out * k..., in) to (out, in, k...)
            pruned = pruned.reshape(w.shape[0], *w.shape[2:], w.shape[1]).movedim(-1, 1)
        elif view is not w:
            pruned = pruned.t()
        w.copy_(pruned)


def _wanda_pruning(model, amount, seed, parameters, options):
    lists = block_lists(model)
    by_block = {}  # block index (None: outside the blocks, last) -> [linear modules in scope]
    for name, module in _linear_weights(model, parameters).items():
        by_block.setdefault(_block_index(name, lists), []).append(module)
    for block in sorted(by_block, key=lambda b: (b is None, b)):
        following = [] if block is None else [blocks[block + 1] for blocks in lists.values() if block + 1 < len(blocks)]
        norms = input_norms(model, options['calibration'], by_block[block], following)
        for module in by_block[block]:
            w = module.weight
            rows = w.t() if isinstance(module, Conv1D) else w  # (outputs, inputs)
            scores = rows.abs().float() * norms[module].to(w.device)[None, :]
            count = round(amount * rows.shape[1])
            drop = torch.zeros_like(scores, dtype=torch.bool)
            drop.scatter_(1, scores.argsort(dim=1, stable=True)[:, :count], True)
            rows.masked_fill_(drop, 0)


_APPLY = {'random_deletion': _random_deletion, 'gaussian_noise': _gaussian_noise,
          'magnitude_pruning': _magnitude_pruning, 'global_magnitude_pruning': _global_magnitude_pruning,
          'neuron_deletion': _neuron_deletion, 'head_deletion': _head_deletion, 'nm_pruning': _nm_pruning,
          'wanda_pruning': _wanda_pruning}
assert set(_APPLY) == set(KIND_TABLE)
