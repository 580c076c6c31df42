"""What a parameter of a model is: the scope it belongs to, the transformer block it sits in, and how its weight is
laid out. The one place that knows the module names of every family and GPT-2's transposed Conv1D.

    scoped_parameters(model, 'attn', layers=[0, 1])   # [(name, parameter)] that a kind of damage may change
    rows(module, weight)                              # a linear layer's weight as (outputs, inputs)

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
"""

import re

from torch import nn
from transformers.pytorch_utils import Conv1D

from robustness.config import fail

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


def block_index(name, lists):
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


def in_scope(name, scope, block):
    if scope == 'all':
        return True
    if scope in ('backbone', 'heads'):
        return name.split('.')[0] == scope
    if block is None:
        return False
    return scope == 'blocks' or sublayer(name) == scope


def scoped_parameters(model, scope='attn', layers=None):
    """[(name, parameter)] of `scope`, within the blocks `layers` (None: all), in the model's order; a one-line error
    for an unknown scope, a model whose blocks cannot be found, a block it does not have or a scope left empty."""
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
        block = block_index(name, lists)
        if layers is not None and len(layers) and block not in layers:
            continue
        if in_scope(name, scope, block):
            chosen.append((name, parameter))
    if not chosen:
        fail(f"scope {scope!r} with layers {layers} selects no parameter of {type(model).__name__}")
    return chosen


def owners(model, parameters):
    """{parameter name: the module that owns it} of `parameters` ([(name, parameter)])."""
    modules = dict(model.named_modules())
    return {name: modules[name.rpartition('.')[0]] for name, _ in parameters}


# ----------------------------------------------------------------------------- layouts
def rows(module, weight):
    """A linear layer's weight as (outputs, inputs), a view that writes through: GPT-2's Conv1D stores (inputs,
    outputs), nn.Linear (outputs, inputs)."""
    return weight.t() if isinstance(module, Conv1D) else weight


def output_axis(module):
    """The axis of a module's weight that indexes its output units: 1 for GPT-2's Conv1D (inputs, outputs) and for
    an embedding (its units are its features), 0 for every other layer."""
    return 1 if isinstance(module, (Conv1D, nn.Embedding)) else 0


def is_linear(module):
    """A linear layer: nn.Linear or GPT-2's Conv1D."""
    return isinstance(module, (nn.Linear, Conv1D))


def head_size(model, kind):
    """The size of an attention head: the config's head_dim, or hidden size / heads; a one-line error without."""
    config = getattr(model, 'config', None)
    size = getattr(config, 'head_dim', None)
    if not size and getattr(config, 'num_attention_heads', None) and getattr(config, 'hidden_size', None):
        size = config.hidden_size // config.num_attention_heads
    if not size:
        fail(f"{kind}: cannot read the head size of {type(model).__name__} from its config "
             f"(head_dim, or hidden_size and num_attention_heads)")
    return int(size)
