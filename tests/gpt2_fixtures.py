"""Tiny GPT-2 models and tokenizers for the tests (random init, a few KB of real text)."""

import torch
from tokenizers import ByteLevelBPETokenizer
from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

from robustness.corpora import chapters, english_verses


def ruth():
    """The book of Ruth (WEB), one chapter per line: ~12 KB of real English."""
    return '\n'.join(chapters(english_verses(), books={8}))


def tiny_tokenizer(text, vocab_size=300):
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator([text], vocab_size=vocab_size, min_frequency=2, show_progress=False)
    return PreTrainedTokenizerFast(tokenizer_object=bpe._tokenizer)


def tiny_gpt2(vocab_size=300, n_layer=2, n_embd=32, n_head=2, n_positions=64, seed=0):
    torch.manual_seed(seed)
    config = GPT2Config(vocab_size=vocab_size, n_layer=n_layer, n_embd=n_embd, n_head=n_head,
                        n_positions=n_positions, bos_token_id=0, eos_token_id=0)
    return GPT2LMHeadModel(config).eval()


def save_tiny_model(path, text, seed=0, n_layer=2, vocab_size=300, steps=0):
    """A tiny GPT-2 and its tokenizer saved as a Hugging Face model dir at `path`; with `steps`, trained that many
    steps on `text` first (so that zeroing its weights costs it something: a floor above intact)."""
    tokenizer = tiny_tokenizer(text, vocab_size)
    model = tiny_gpt2(len(tokenizer), n_layer=n_layer, seed=seed)
    if steps:
        ids = torch.tensor(tokenizer(text)['input_ids'])
        windows = ids[:len(ids) // 32 * 32].view(-1, 32)
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
        generator = torch.Generator().manual_seed(seed)
        model.train()
        for _ in range(steps):
            batch = windows[torch.randint(len(windows), (8,), generator=generator)]
            model(batch, labels=batch).loss.backward()
            optimizer.step()
            optimizer.zero_grad()
        model.eval()
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return model, tokenizer
