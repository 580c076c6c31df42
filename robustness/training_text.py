"""train_bilingual_gpt2.py's text: both languages' documents split into training and held-out text, the tokenizers
built from them, and the token rows the models train on.

    corpus = read_corpus(train_file, second_file, eval_fraction, max_docs)   # the Bibles by default
    tokenizers = build_tokenizers(corpus, names, folders, recipe, rt)         # trained once, loaded by every rank
    rows, row_bytes = token_rows(tokenizers['bilingual'], corpus.train_en, block_size, batch_size, rt)

The default corpus is the World English Bible and the Ukrainian Bible (pip-installed text), with the same five whole
books held out of both languages (robustness.corpora.DEFAULT_EVAL_BOOKS): no model sees a translation of the
evaluation text. A user corpus (a text file with one document per line, or online a Hugging Face dataset) holds out
its last documents instead.

The tokenizer recipes (the setting `tokenization`): `shared` gives every model one tokenizer, so that they are
scored on the same units: from scratch a byte-level BPE of `vocab_size` trained on both languages' training text in
equal shares of bytes; with a pretrained init_from, its own tokenizer. `own` is the paper's design: from scratch each
model gets a BPE trained on its own training text (English for monolingual and control, the mix for bilingual, the
second language for lang2_only); with a pretrained init_from, the monolingual and control models keep its tokenizer
and the bilingual (lang2_only) model gets a new BPE of its text, its embedding matrix resized to it
(robustness.trainer.new_model; the rows of the old embedding then stand for other strings: the model relearns them).
The saved tokenizers use the end-of-text token as padding token (GPT-2 has none).
"""

import os
from dataclasses import dataclass

import torch
from tokenizers import models as bpe_models, pre_tokenizers, trainers
from transformers import AutoTokenizer, PreTrainedTokenizerFast

from robustness import corpora
from robustness.checkpoints import END_OF_TEXT, byte_level_bpe
from robustness.config import check


@dataclass(frozen=True)
class Corpus:
    """The documents of both languages, split into training and held-out text, and the undecodable bytes the files
    had (replaced by U+FFFD)."""
    train_en: list
    eval_en: list
    train_lang2: list
    eval_lang2: list
    replaced_bytes: int


def evenly(documents, count):
    """At most `count` of the documents, spread evenly through them (all when count is 0)."""
    if not count or count >= len(documents):
        return documents
    return [documents[i * len(documents) // count] for i in range(count)]


def load_documents(value, setting, max_docs):
    """(documents, replaced undecodable bytes) of a text file or, online, a HF dataset name[:config[:split]] (at most
    max_docs documents of it, or 100,000)."""
    if corpora.is_text_file(value):
        return corpora.read_documents(value, setting)
    # a document is one line: newlines inside a document become spaces
    documents = [' '.join(text.split()) for text in corpora.hub_texts(value, setting, 'train', max_docs or 100_000)]
    documents = [d for d in documents if d]
    check(documents, f"{setting}: the dataset {value!r} has no text")
    return documents, 0


def split_held_out(documents, setting, eval_fraction, max_docs):
    """(training, held-out) documents of a user corpus: the last eval_fraction is held out, after max_docs."""
    check(len(documents) >= 2, f"{setting}: {len(documents)} document; need at least 2 to hold one out")
    held_out = max(1, round(len(documents) * eval_fraction))
    documents = evenly(documents, max_docs and max_docs + held_out)
    held_out = max(1, round(len(documents) * eval_fraction))
    return documents[:-held_out], documents[-held_out:]


def language(value, setting, bible, eval_fraction, max_docs):
    """(training, held-out documents, replaced bytes) of one language: the user's corpus `value`, or the verses that
    `bible()` reads, with the study's books held out."""
    if value:
        documents, replaced = load_documents(value, setting, max_docs)
        return *split_held_out(documents, setting, eval_fraction, max_docs), replaced
    verses = bible()
    return (evenly(corpora.chapters(verses, exclude_books=corpora.DEFAULT_EVAL_BOOKS), max_docs),
            evenly(corpora.chapters(verses, books=corpora.DEFAULT_EVAL_BOOKS), max_docs), 0)


def read_corpus(train_file, second_file, eval_fraction, max_docs):
    """Both languages' training and held-out documents: the user's files (settings `train_file`, `second_file`), or
    the English and Ukrainian Bibles."""
    train_en, eval_en, replaced_en = language(train_file, 'train_file', lambda: corpora.english_verses('web'),
                                              eval_fraction, max_docs)
    train_lang2, eval_lang2, replaced_lang2 = language(second_file, 'second_file', corpora.ukrainian_verses,
                                                       eval_fraction, max_docs)
    return Corpus(train_en, eval_en, train_lang2, eval_lang2, replaced_en + replaced_lang2)


def utf8_bytes(documents):
    return sum(len(document.encode('utf-8')) for document in documents)


def equal_bytes(english, lang2):
    """The two languages' documents in equal shares of UTF-8 bytes: the larger one's documents, picked evenly,
    until they hold as many bytes as the smaller one's."""
    small, large = sorted((english, lang2), key=utf8_bytes)
    budget, picked = utf8_bytes(small), []
    for document in evenly(large, len(large)):  # in order: chapters spread over the whole text
        if budget <= 0:
            break
        picked.append(document)
        budget -= len(document.encode('utf-8'))
    return (small, picked) if small is english else (picked, small)


# ----------------------------------------------------------------------------- tokenizers and token rows
def train_bpe(documents, vocab_size):
    """A byte-level BPE of vocab_size trained on the documents, as a transformers tokenizer."""
    bpe = byte_level_bpe(bpe_models.BPE())
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[END_OF_TEXT], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    bpe.train_from_iterator(documents, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=bpe, bos_token=END_OF_TEXT, eos_token=END_OF_TEXT,
                                   unk_token=END_OF_TEXT, pad_token=END_OF_TEXT)


def check_shared_vocabulary(documents, vocab_size):
    """A shared BPE must give every character of both languages a token of its own: the 256 bytes and end-of-text,
    plus one merge per character of more than one UTF-8 byte (a Cyrillic letter is two)."""
    wide = {character for document in documents for character in set(document) if len(character.encode('utf-8')) > 1}
    check(vocab_size >= 257 + len(wide),
          f"vocab_size: a shared vocabulary of {vocab_size} cannot hold both languages' characters: 256 bytes, "
          f"end-of-text and {len(wide)} characters of more than one byte need at least {257 + len(wide)}; raise "
          f"vocab_size")


NEW_VOCABULARY = ('bilingual', 'lang2_only')  # from a pretrained base, tokenization=own gives these a BPE of their own


def tokenizer_folders(out_dir, tokenization, models):
    """{model: folder of its tokenizer}: one for all the models (tokenization 'shared'), or one per model ('own')."""
    if tokenization == 'shared':
        return dict.fromkeys(models, os.path.join(out_dir, 'tokenizer'))
    return {name: os.path.join(out_dir, name, 'tokenizer') for name in models}


@dataclass(frozen=True)
class TokenizerRecipe:
    """How the models' tokenizers are made: `choice` (the setting tokenization: 'shared' or 'own'), from scratch a
    BPE of `vocab_size`, else `pretrained` (init_from's tokenizer) for every model but tokenization=own's bilingual
    one."""
    choice: str
    vocab_size: int
    pretrained: object = None


def build_tokenizers(corpus, names, folders, recipe, rt):
    """{model: its tokenizer} for the models `names`, each in its folder (`folders`). The master trains (or, on a
    resumed run, finds) each and saves it there; every rank loads it from there."""
    for name in names:
        if not rt.is_master or os.path.exists(os.path.join(folders[name], 'tokenizer.json')):
            continue
        if recipe.choice == 'shared' and recipe.pretrained is None:
            english, lang2 = equal_bytes(corpus.train_en, corpus.train_lang2)
            built = train_bpe(english + lang2, recipe.vocab_size)
        elif recipe.choice == 'own' and (recipe.pretrained is None or name in NEW_VOCABULARY):
            text = {'bilingual': corpus.train_en + corpus.train_lang2, 'lang2_only': corpus.train_lang2}
            built = train_bpe(text.get(name, corpus.train_en), recipe.vocab_size)
        else:
            built = recipe.pretrained
            if built.pad_token is None:
                built.pad_token = built.eos_token
        built.save_pretrained(folders[name])
    if rt.distributed:
        torch.distributed.barrier()
    return {name: AutoTokenizer.from_pretrained(folders[name]) for name in names}


def token_rows(tokenizer, documents, block_size, batch_size, rt):
    """The documents as one token stream (end-of-text after each) cut into rows of block_size tokens, and the UTF-8
    bytes each row stands for; a one-line error (naming max_docs) when they fill no batch of batch_size rows."""
    ids = tokenizer(documents, add_special_tokens=False, verbose=False)['input_ids']
    stream = torch.tensor([t for doc in ids for t in doc + [tokenizer.eos_token_id]], dtype=torch.long)
    rows = stream[:len(stream) // block_size * block_size].view(-1, block_size)
    check(len(rows) >= rt.world_size * batch_size,
          f"max_docs: {len(stream):,} tokens of text make too few sequences of block_size {block_size} for one batch")
    texts = tokenizer.batch_decode(rows, skip_special_tokens=True)
    return rows, torch.tensor([len(text.encode('utf-8')) for text in texts])
