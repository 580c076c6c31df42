"""Weight perturbations of a model, in place, restored bit for bit on exit.

    with perturbed(model, 'random_deletion', 0.2, scope='attn', seed=3) as damage:
        loss = evaluate(model)        # the model with 20% of its attention weights zeroed
        damage.sparsity               # the fraction of zeros actually in scope
    # the model is exactly as before

The kinds are robustness.kinds' registry (KINDS: each kind's amount range, options, targets and function), the
scopes robustness.scopes'. Only the tensors about to change are copied, and copied back on exit: no deep copy of the
model (a deep copy of GPT-2 small per trial costs more than its evaluation).

Every draw comes from a torch.Generator seeded by a stable hash of (kind, amount, seed, parameter or module name):
a trial is reproducible, two models of the same architecture get the same masks (paired comparisons), and a
tensor's mask does not depend on what else is in scope.
"""

import contextlib
import functools
import hashlib
from dataclasses import dataclass, field

import torch

from robustness.config import fail
from robustness.kinds import KINDS, weight_kinds
from robustness.scopes import scoped_parameters


@dataclass
class Perturbation:
    """What a `perturbed` block did: the parameters it touched and the sparsity it reached."""
    kind: str
    amount: float
    names: list = field(default_factory=list)  # parameters the kind acts on in scope
    numel: int = 0                              # their number of entries
    zeros: int = 0                              # entries equal to zero after the perturbation

    @property
    def sparsity(self):
        return self.zeros / self.numel if self.numel else 0.0


def seeded(device, *key):
    """A generator on `device` seeded by a stable hash of `key` (Python's hash() changes between runs)."""
    digest = hashlib.sha256('|'.join(map(repr, key)).encode()).digest()
    return torch.Generator(device=device).manual_seed(int.from_bytes(digest[:8], 'little') >> 1)


def targets(model, kind, scope, layers, options):
    """[(name, parameter)] that `kind` changes in scope, after checking its amount's kind and its options (a one-line
    error otherwise)."""
    if kind not in weight_kinds():
        fail(f"unknown kind {kind!r}; valid: {', '.join(weight_kinds())}")
    parameters = scoped_parameters(model, scope, layers)
    allowed = set(KINDS[kind].options)
    unknown = set(options) - allowed
    if unknown:
        fail(f"{kind}: unknown option {', '.join(sorted(unknown))}" + (f"; valid: {', '.join(sorted(allowed))}"
                                                                      if allowed else ''))
    found = KINDS[kind].targets
    return found(model, parameters, options, scope) if found else parameters


def check_kind(model, kind, amount, scope='attn', layers=None, **options):
    """Raise ValueError (one line) if `perturbed(model, kind, amount, scope, layers=layers, **options)` would; touches
    no value, so a model built on the meta device will do (the scripts check every setting before any work)."""
    parameters = targets(model, kind, scope, layers, options)
    KINDS[kind].check_amount(amount)
    return parameters


@contextlib.contextmanager
def perturbed(model, kind, amount, scope='attn', seed=0, layers=None, **options):
    """Perturb the parameters in scope in place; on exit restore them bit for bit. Yields a Perturbation.
    Options: `group` (nm_pruning), `calibration` (wanda_pruning)."""
    parameters = check_kind(model, kind, amount, scope, layers, **options)
    info = Perturbation(kind, amount, [name for name, _ in parameters])
    saved = []
    try:
        with torch.no_grad():
            # Copies of exactly the tensors about to change (nothing changes at amount 0).
            if amount > 0:
                saved = [(parameter, parameter.detach().clone()) for _, parameter in parameters]
                generator = functools.partial(seeded, parameters[0][1].device, kind, amount, seed)
                KINDS[kind].apply(model, amount, generator, parameters, options)
            info.numel = sum(parameter.numel() for _, parameter in parameters)
            info.zeros = int(sum((parameter == 0).sum() for _, parameter in parameters))  # one device sync
        yield info
    finally:
        with torch.no_grad():
            for parameter, original in saved:
                parameter.copy_(original)
