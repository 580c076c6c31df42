"""Part of a forward pass: hooks that record what modules see and a stop where the pass has given what it came for.

    with hooked(record={layer: keep}, stop_before=[next_block]):
        partial_forward(model, input_ids=batch)    # runs until next_block starts

Wanda's calibration pass (robustness.kinds) reads the inputs of a block's linear layers and stops where the next
block starts; SlidingWindowNLL (robustness.perplexity) keeps the output of the block before the first damaged one
and stops there.
"""

import contextlib


class StopForward(Exception):
    """Raised by a hook where the forward pass has what it came for."""


def stop(*args):
    raise StopForward


@contextlib.contextmanager
def hooked(record=None, stop_before=(), stop_after=()):
    """Inside the `with`: a forward hook `record[module]` (module, inputs, output) on each module of `record`, and a
    pass that stops (StopForward) where a module of `stop_before` starts or one of `stop_after` ends; every hook is
    removed on exit."""
    handles = [module.register_forward_hook(hook) for module, hook in (record or {}).items()]
    handles += [module.register_forward_pre_hook(stop) for module in stop_before]
    handles += [module.register_forward_hook(stop) for module in stop_after]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def partial_forward(model, *args, **kwargs):
    """model(*args, **kwargs), ended quietly where a hook stops it."""
    with contextlib.suppress(StopForward):
        model(*args, **kwargs)
