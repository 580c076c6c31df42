import math

import pytest
import torch
import torch.nn.functional as F

from gpt2_fixtures import ruth, tiny_gpt2, tiny_tokenizer
from robustness.perplexity import Perplexity, SlidingWindowNLL, evaluate_text, sliding_window_nll, windows


def reference_nll(model, ids, max_length, stride):
    """Unbatched reference: one window at a time through the model's own loss, every token after the
    first scored once with the overlap as context (the HF guide's loop, counting tokens exactly)."""
    nll, count, begin, previous_end = 0.0, 0, 0, 0
    while previous_end < len(ids):
        end = min(begin + max_length, len(ids))
        window = ids[begin:end].unsqueeze(0)
        labels = window.clone()
        labels[:, :max(previous_end, 1) - begin] = -100
        with torch.no_grad():
            logits = model(window).logits[0, :-1]
        targets = labels[0, 1:]
        scored = targets != -100
        nll += F.cross_entropy(logits[scored], targets[scored], reduction='sum').item()
        count += int(scored.sum())
        begin, previous_end = min(begin + stride, end - 1), end
    return nll, count


@pytest.fixture(scope='module')
def setup():
    text = ruth()[:2000]
    tokenizer = tiny_tokenizer(ruth())
    return tiny_gpt2(len(tokenizer), n_positions=64), tokenizer, text


@pytest.mark.parametrize('n_tokens,max_length,stride', [(10, 4, 2), (9, 4, 4), (11, 4, 3), (5, 8, 4), (2, 4, 1), (100, 16, 5)])
def test_windows_score_every_token_after_the_first_once(n_tokens, max_length, stride):
    spans = windows(n_tokens, max_length, stride)
    scored = [t for begin, end, first in spans for t in range(first, end)]
    assert scored == list(range(1, n_tokens))
    assert all(end - begin <= max_length and first > begin for begin, end, first in spans)


def test_windows_reject_bad_stride():
    with pytest.raises(ValueError):
        windows(10, 4, 5)
    with pytest.raises(ValueError):
        windows(10, 4, 0)


@pytest.mark.parametrize('max_length,stride,batch_size', [(64, 32, 8), (64, 64, 3), (48, 7, 4)])
def test_batched_matches_unbatched_reference(setup, max_length, stride, batch_size):
    model, tokenizer, text = setup
    ids = torch.tensor(tokenizer(text)['input_ids'])
    assert len(ids) > 3 * max_length
    nll, tokens = sliding_window_nll(model, ids, max_length, stride, batch_size)
    ref_nll, ref_tokens = reference_nll(model, ids, max_length, stride)
    assert tokens == ref_tokens == len(ids) - 1
    assert nll == pytest.approx(ref_nll, rel=1e-5)


def test_evaluate_text_gives_ppl_and_bits_per_byte(setup):
    model, tokenizer, text = setup
    result = evaluate_text(model, tokenizer, text, max_length=64, stride=32)
    ids = torch.tensor(tokenizer(text)['input_ids'])
    ref_nll, ref_tokens = reference_nll(model, ids, 64, 32)
    assert result.bytes == len(text.encode('utf-8'))
    assert result.tokens == ref_tokens
    assert result.ppl == pytest.approx(math.exp(ref_nll / ref_tokens), rel=1e-5)
    assert result.bpb == pytest.approx(ref_nll / math.log(2) / len(text.encode('utf-8')), rel=1e-5)
    # A random-init model is close to uniform over the vocabulary.
    assert 0.5 * len(tokenizer) < result.ppl < 2 * len(tokenizer)


def test_empty_and_one_token_texts_score_nothing():
    assert Perplexity(0.0, 0, 0).tokens == 0 and math.isnan(Perplexity(0.0, 0, 0).ppl)
    assert math.isnan(Perplexity(1.0, 1, 0).bpb)
    model = tiny_gpt2(300)
    assert sliding_window_nll(model, torch.tensor([5]), 8, 4) == (0.0, 0)


@pytest.mark.parametrize('first_block', [1, 2, 3])
def test_cached_prefix_equals_full_computation_after_changing_later_blocks(setup, first_block):
    _, tokenizer, text = setup
    model = tiny_gpt2(len(tokenizer), n_layer=4, n_positions=64, seed=1)
    ids = torch.tensor(tokenizer(text)['input_ids'])
    cached = SlidingWindowNLL(model, ids, 64, 24, batch_size=4, first_block=first_block)
    full = SlidingWindowNLL(model, ids, 64, 24, batch_size=4)
    intact = full()
    assert cached() == pytest.approx(intact, rel=1e-6)
    with torch.no_grad():  # damage the blocks after the cached prefix: the cache stays valid
        for block in model.transformer.h[first_block:]:
            block.attn.c_attn.weight.add_(torch.randn_like(block.attn.c_attn.weight))
            block.mlp.c_fc.weight.add_(torch.randn_like(block.mlp.c_fc.weight))
    damaged = full()
    assert abs(damaged[0] - intact[0]) > 1e-4 * intact[0]  # the damage changed the loss (100x the tolerance)
    assert cached() == pytest.approx(damaged, rel=1e-6)


def test_model_left_in_its_training_mode(setup):
    model, tokenizer, text = setup
    model.train()
    ids = torch.tensor(tokenizer(text)['input_ids'])
    first = sliding_window_nll(model, ids, 64, 32)
    assert model.training
    assert sliding_window_nll(model, ids, 64, 32) == first  # dropout off while scoring
    model.eval()
