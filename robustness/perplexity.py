"""Strided sliding-window negative log-likelihood -> perplexity and bits-per-byte.

Follows the Hugging Face guide "Perplexity of fixed-length models": windows of `max_length` tokens
move by `stride`; every token after the first is scored exactly once, with the overlap before it as
context; the result is token-weighted (the summed NLL over the count of scored tokens). Unlike the
guide, windows of the same shape run as one batch, the loss is summed exactly (no per-window means),
and logits are computed only where a token is scored (the vocabulary projection is a third of
GPT-2 small's forward pass).

Bits-per-byte (summed NLL / ln 2 / UTF-8 bytes of the text) does not depend on the tokenizer, so it
compares models with different tokenizers; per-token perplexity does not.

    ppl = evaluate_text(model, tokenizer, text, max_length=1024, stride=512)
    ppl.ppl, ppl.bpb

For many evaluations of one text (a perturbation sweep) build `SlidingWindowNLL` once. With
`first_block=k` it caches the intact output of transformer block k - 1, and every call runs only the
embeddings, blocks k.. and the head: the sweep over perturbations restricted to the last blocks then
costs a fraction of a forward pass per trial. The blocks are found as `robustness.perturb` finds them,
so this works for every decoder family.
"""

import contextlib
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from robustness.config import fail
from robustness.hooks import hooked, partial_forward
from robustness.scopes import block_lists
from robustness.runtime import autocast


@dataclass
class Perplexity:
    nll: float   # summed natural-log loss over the scored tokens
    tokens: int  # number of scored (predicted) tokens
    bytes: int   # UTF-8 bytes of the evaluated text

    @property
    def ppl(self):
        if not self.tokens:
            return math.nan
        try:
            return math.exp(self.nll / self.tokens)
        except OverflowError:  # a heavily damaged model: recorded as inf, not a crash
            return math.inf

    @property
    def bpb(self):
        return self.nll / math.log(2) / self.bytes if self.bytes else math.nan


def windows(n_tokens, max_length, stride):
    """[(begin, end, first_target)]: the window is tokens[begin:end]; tokens[first_target:end] are scored.

    The first window scores all its tokens but the first; each later one starts `stride` tokens after
    the previous one and scores the tokens after the previous window's end, so every token after the
    first is scored exactly once. A window keeps at least one token of context: with
    stride == max_length the windows overlap by one token.
    """
    if max_length < 2 or not 0 < stride <= max_length:
        fail(f"need max_length >= 2 and 1 <= stride <= max_length, got {max_length} and {stride}")
    spans, begin, previous_end = [], 0, 0
    while n_tokens >= 2 and previous_end < n_tokens:
        end = min(begin + max_length, n_tokens)
        spans.append((begin, end, max(previous_end, 1)))
        begin, previous_end = min(begin + stride, end - 1), end
    return spans


def _blocks(model):
    """The transformer blocks of a causal LM: its one ModuleList with an entry per layer."""
    lists = block_lists(model)
    if len(lists) != 1:
        fail(f"first_block > 0 needs one list of transformer blocks; {type(model).__name__} has "
                         f"{len(lists)}")
    return next(iter(lists.values()))


@contextlib.contextmanager
def _replayed(blocks, replay):
    """Inside the `with`, each of `blocks` returns replay() at once, computing nothing; their forward is restored on
    exit. Patching the instances keeps what a family's model reads from its blocks (attention_type, layer_idx)."""
    saved = [block.__dict__.get('forward') for block in blocks]
    for block in blocks:
        block.forward = lambda *args, **kwargs: replay()
    try:
        yield
    finally:
        for block, forward in zip(blocks, saved):
            if forward is None:
                del block.forward
            else:
                block.forward = forward


class SlidingWindowNLL:
    """The windows of one token sequence, batched once, scored with the model's current weights per call."""

    def __init__(self, model, input_ids, max_length, stride, batch_size=8, first_block=0, precision='auto'):
        input_ids = torch.as_tensor(input_ids).flatten()
        self.model, self.first_block, self.precision = model, first_block, precision
        self.device = next(model.parameters()).device
        # Windows of equal length and equal scored range go in one batch (the first and the last window
        # usually differ from the middle ones).
        groups = {}
        for begin, end, first_target in windows(len(input_ids), max_length, stride):
            groups.setdefault((end - begin, first_target - begin), []).append(input_ids[begin:end])
        self.batches = [(torch.stack(rows[i:i + batch_size]).to(self.device), context)
                        for (_, context), rows in groups.items()
                        for i in range(0, len(rows), batch_size)]
        self.tokens = sum(ids.shape[0] * (ids.shape[1] - context) for ids, context in self.batches)
        self.cached = None
        if first_block > 0:
            # The intact output of block first_block - 1, one per batch: the forward pass stops there. Later calls
            # replay it from the blocks before first_block, which the perturbations of these trials never touch.
            blocks = _blocks(model)
            if not 0 < first_block < len(blocks):
                fail(f"first_block {first_block} is outside the model's {len(blocks)} blocks")
            self.cached = []
            last = blocks[first_block - 1]
            was_training = model.training
            model.eval()
            try:
                with torch.inference_mode(), autocast(self.device, self.precision), \
                        hooked(record={last: lambda module, args, output: self.cached.append(output)},
                               stop_after=[last]):
                    for ids, _ in self.batches:
                        partial_forward(model, ids, use_cache=False)
            finally:
                model.train(was_training)

    def __call__(self):
        """(summed NLL, number of scored tokens) under the model's current weights."""
        was_training = self.model.training
        self.model.eval()
        nll = torch.zeros((), dtype=torch.float64, device=self.device)
        current = None
        skipped = _blocks(self.model)[:self.first_block] if self.cached is not None else []
        with torch.inference_mode(), autocast(self.device, self.precision), _replayed(skipped, lambda: current):
            for i, (ids, context) in enumerate(self.batches):
                current = self.cached[i] if self.cached is not None else None
                keep = ids.shape[1] - context + 1  # the positions predicting the scored tokens, plus the last
                logits = self.model(ids, logits_to_keep=keep, use_cache=False).logits[:, :-1]
                nll += F.cross_entropy(logits.flatten(0, 1).float(), ids[:, context:].flatten(), reduction='sum')
        self.model.train(was_training)
        return nll.item(), self.tokens


def sliding_window_nll(model, input_ids, max_length, stride, batch_size=8):
    """(summed NLL, number of scored tokens) of a 1-D sequence of token ids under a causal LM."""
    return SlidingWindowNLL(model, input_ids, max_length, stride, batch_size)()


def encode(tokenizer, text):
    """The token ids of the whole text as one 1-D LongTensor (no special tokens, no length warning)."""
    ids = tokenizer(text, add_special_tokens=False, verbose=False)['input_ids']
    return torch.tensor(ids, dtype=torch.long)


def evaluate_text(model, tokenizer, text, max_length, stride, batch_size=8):
    """Perplexity (summed NLL, scored tokens, UTF-8 bytes) of `text` under a causal LM."""
    nll, tokens = sliding_window_nll(model, encode(tokenizer, text), max_length, stride, batch_size)
    return Perplexity(nll, tokens, len(text.encode('utf-8')))
