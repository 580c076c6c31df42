"""Tiny random models of every family the project supports, built from their configs (no download)."""

import torch
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSequenceClassification, PreTrainedTokenizerFast

DECODERS = ('gpt2', 'gpt_neox', 'llama', 'mistral', 'qwen2', 'qwen3', 'gemma', 'opt', 'xglm', 'bloom', 'falcon')
ENCODERS = ('bert', 'roberta', 'xlm-roberta', 'distilbert', 'deberta-v2', 'xlm', 'modernbert')

def _sizes(family, width, layers):
    """The config arguments of a `layers`-block, `width`-wide model with 4 heads, in the family's own names."""
    common = dict(hidden_size=width, num_hidden_layers=layers, num_attention_heads=4, intermediate_size=2 * width,
                  max_position_embeddings=512)
    grouped = dict(common, num_key_value_heads=2)  # grouped-query attention: 2 key/value heads for 4 query heads
    return {
        'gpt2': dict(n_embd=width, n_layer=layers, n_head=4, n_positions=512),
        'gpt_neox': common, 'llama': grouped, 'mistral': grouped, 'qwen2': grouped,
        'qwen3': dict(grouped, head_dim=width // 4), 'gemma': dict(grouped, head_dim=width // 4),
        'opt': dict(hidden_size=width, num_hidden_layers=layers, num_attention_heads=4, ffn_dim=2 * width,
                    max_position_embeddings=512, word_embed_proj_dim=width),
        'xglm': dict(d_model=width, num_layers=layers, attention_heads=4, ffn_dim=2 * width, max_position_embeddings=512),
        'bloom': dict(hidden_size=width, n_layer=layers, n_head=4),
        'falcon': dict(hidden_size=width, num_hidden_layers=layers, num_attention_heads=4),
        'bert': common, 'roberta': dict(common, max_position_embeddings=514),
        'xlm-roberta': dict(common, max_position_embeddings=514),
        'distilbert': dict(dim=width, n_layers=layers, n_heads=4, hidden_dim=2 * width, max_position_embeddings=512),
        'deberta-v2': dict(common, relative_attention=True, pos_att_type=['p2c', 'c2p'], position_buckets=8),
        'xlm': dict(emb_dim=width, n_layers=layers, n_heads=4, max_position_embeddings=512),
        'modernbert': dict(common, global_attn_every_n_layers=1),
    }[family]


def tiny_config(family, vocab_size=300, pad_token_id=0, width=32, layers=2):
    """A 2-block, 32-wide config of `family` (or the size given) with two labels; special tokens all `pad_token_id`
    (the tiny tokenizers have one special token that does every job)."""
    special = {name: pad_token_id for name in ('pad_token_id', 'bos_token_id', 'eos_token_id')}
    if family == 'modernbert':
        special.update(cls_token_id=pad_token_id, sep_token_id=pad_token_id)
    return AutoConfig.for_model(family, vocab_size=vocab_size, num_labels=2, **special, **_sizes(family, width, layers))


def tiny_model(family, classifier=False, vocab_size=300, seed=0, pad_token_id=0, width=32, layers=2):
    """A random tiny causal LM (or sequence classifier) of `family`, in eval mode."""
    torch.manual_seed(seed)
    auto = AutoModelForSequenceClassification if classifier else AutoModelForCausalLM
    return auto.from_config(tiny_config(family, vocab_size, pad_token_id, width, layers)).eval()


def bpe_tokenizer(texts, vocab_size=400):
    """A byte-level BPE with GPT-2's end-of-text token (also its padding token), trained on `texts`."""
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=['<|endoftext|>'],
                                                       initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    return PreTrainedTokenizerFast(tokenizer_object=bpe, bos_token='<|endoftext|>', eos_token='<|endoftext|>',
                                   unk_token='<|endoftext|>', pad_token='<|endoftext|>')


def wordpiece_tokenizer(texts, vocab_size=400):
    """A lower-casing WordPiece with BERT's special tokens and pair template, trained on `texts`."""
    wordpiece = Tokenizer(models.WordPiece(unk_token='[UNK]'))
    wordpiece.normalizer = normalizers.BertNormalizer(lowercase=True)
    wordpiece.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    wordpiece.decoder = decoders.WordPiece()
    wordpiece.train_from_iterator(texts, trainers.WordPieceTrainer(
        vocab_size=vocab_size, special_tokens=['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]']))
    cls, sep = wordpiece.token_to_id('[CLS]'), wordpiece.token_to_id('[SEP]')
    wordpiece.post_processor = processors.TemplateProcessing(
        single='[CLS] $A [SEP]', pair='[CLS] $A [SEP] $B:1 [SEP]:1', special_tokens=[('[CLS]', cls), ('[SEP]', sep)])
    return PreTrainedTokenizerFast(tokenizer_object=wordpiece, unk_token='[UNK]', pad_token='[PAD]',
                                   cls_token='[CLS]', sep_token='[SEP]', mask_token='[MASK]')


def save_family_model(path, family, tokenizer, classifier=False, seed=0):
    """A tiny `family` model sized to the tokenizer, saved with it as a Hugging Face folder at `path`."""
    model = tiny_model(family, classifier, vocab_size=len(tokenizer), seed=seed, pad_token_id=tokenizer.pad_token_id)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return model
