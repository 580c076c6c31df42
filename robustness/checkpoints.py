"""What a `models` entry names, and how to load it: a Hugging Face model folder or hub name, a family folder of
seed_<s>/ models (train_bilingual_gpt2.py with several training seeds; `expand_families`), or a GPT-2 state-dict
file in the paper authors' release format.

    config = load_config(path, 'models')                             # for a file: inferred from the tensor shapes
    tokenizer = load_tokenizer(path, 'models', tokenizer_dir)         # for a file: its folder, or `tokenizers`
    model = load_model(AutoModelForCausalLM, path, 'models')

The authors released `torch.save(model.state_dict())` of a GPT2LMHeadModel with GPT-2 small's shape, taken while
the model was wrapped in DistributedDataParallel (keys may begin with `module.`) and with the buffers `attn.bias`
and `attn.masked_bias` that transformers of 2022 kept in every block (current versions have none). Beside them,
tokenizer folders read by `GPT2Tokenizer.from_pretrained(folder)`: `vocab.json` + `merges.txt`. No hub access is
needed: the architecture comes from the shapes (layers, width, positions, vocabulary; heads of 64 dimensions, as
in every GPT-2, unless `n_head` says otherwise). Anything else that does not fit GPT-2 is a one-line error.
"""

import json
import os
import re

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers
from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer, GPT2Config, GPT2LMHeadModel, \
    PreTrainedTokenizerFast

from robustness.config import check, fail
from robustness.results import NO_TRAIN_SEED
from robustness.hub import from_pretrained

STATE_DICT_SUFFIXES = ('.pth', '.pt', '.bin', '.safetensors')
OLD_BUFFERS = re.compile(r'\.attn\.(bias|masked_bias)$')  # causal-mask buffers of transformers < 4.x in 2022
END_OF_TEXT = '<|endoftext|>'


def is_state_dict(path):
    return str(path).lower().endswith(STATE_DICT_SUFFIXES)


def read_state_dict(path, setting):
    """The file's tensors, `module.` prefixes (DistributedDataParallel) stripped, the old attention buffers dropped."""
    check(os.path.isfile(path), f"{setting}: state-dict file {path} does not exist")
    try:
        if path.lower().endswith('.safetensors'):
            from safetensors.torch import load_file
            state = load_file(path)
        else:
            state = torch.load(path, map_location='cpu', weights_only=True)  # tensors only: no code runs on load
    except Exception as error:
        fail(f"{setting}: cannot read {path} as a state dict "
             f"({type(error).__name__}: {str(error).splitlines()[0][:200]})")
    check(isinstance(state, dict) and state and all(isinstance(v, torch.Tensor) for v in state.values()),
          f"{setting}: {path} holds no state dict (a dict of tensors)")
    state = {key[len('module.'):] if key.startswith('module.') else key: value for key, value in state.items()}
    return {key: value for key, value in state.items() if not OLD_BUFFERS.search(key)}


def gpt2_config(state, path, setting, n_head=0):
    """The GPT2Config whose GPT2LMHeadModel has exactly the keys and shapes of `state`."""
    wte, wpe = state.get('transformer.wte.weight'), state.get('transformer.wpe.weight')
    if wte is None or wpe is None:
        fail(f"{setting}: {path} is not a GPT-2 state dict: it has no transformer.wte.weight/transformer.wpe.weight "
             f"(its first keys: {', '.join(list(state)[:4])})")
    blocks = {int(match.group(1)) for key in state if (match := re.match(r'transformer\.h\.(\d+)\.', key))}
    n_embd = wte.shape[1]
    heads = n_head or max(1, n_embd // 64)
    check(n_embd % heads == 0, f"n_head: {heads} heads do not divide the width {n_embd} of {path}")
    inner = state.get('transformer.h.0.mlp.c_fc.weight')
    end_of_text = 50256 if wte.shape[0] > 50256 else None  # GPT-2's <|endoftext|>; a smaller vocabulary has its own
    config = GPT2Config(vocab_size=wte.shape[0], n_positions=wpe.shape[0], n_embd=n_embd,
                        n_layer=max(blocks, default=-1) + 1,
                        n_head=heads, n_inner=inner.shape[1] if inner is not None else None,
                        bos_token_id=end_of_text, eos_token_id=end_of_text)
    with torch.device('meta'):  # the expected keys and shapes, without allocating GPT-2's weights
        expected = {key: value.shape for key, value in GPT2LMHeadModel(config).state_dict().items()}
    missing = [key for key in expected if key not in state and key != 'lm_head.weight']  # lm_head is tied to wte
    unexpected = [key for key in state if key not in expected]
    wrong = [f"{key} {tuple(state[key].shape)} (expected {tuple(shape)})" for key, shape in expected.items()
             if key in state and state[key].shape != shape]
    for problem, keys in (('unexpected keys', unexpected), ('missing keys', missing),
                          ('wrongly shaped tensors', wrong)):
        check(not keys, f"{setting}: {path} is not a GPT-2 state dict: {len(keys)} {problem}: {', '.join(keys[:4])}"
                        f"{', ...' if len(keys) > 4 else ''}")
    return config


def numbered_dirs(path, prefix):
    """[(n, path/<prefix>n)] of the numbered subfolders of `path`, by n: a family folder's seed_<s>/ models, a model's
    step_<s>/ checkpoints (train_bilingual_gpt2.py's layout); [] for anything else."""
    if not os.path.isdir(path):
        return []
    return sorted((int(name[len(prefix):]), os.path.join(path, name)) for name in os.listdir(path)
                  if re.fullmatch(re.escape(prefix) + r'\d+', name) and os.path.isdir(os.path.join(path, name)))


def training_tokens(path):
    """(step, tokens, English tokens) a model dir was saved at, from train_bilingual_gpt2.py's trainer_state.json;
    None for a model that script did not write."""
    state_file = os.path.join(path, 'trainer_state.json')
    if not os.path.exists(state_file):
        return None
    with open(state_file) as f:
        state = json.load(f)
    return state['step'], state['tokens'], state['en_tokens']


def byte_level_bpe(bpe):
    """GPT-2's byte-level BPE around `bpe` (a tokenizers BPE model: read from vocab.json + merges.txt, or empty, to
    be trained), as the tokenizers library builds it."""
    tokenizer = Tokenizer(bpe)
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    return tokenizer


def family_seeds(path):
    """The seeds s of a family folder's seed_<s>/ models; [] for anything else."""
    return [seed for seed, _ in numbered_dirs(path, 'seed_')]


def expand_families(entries):
    """[(label, path)] -> [(label, train_seed, path)]: a family folder gives one entry per seed_<s>/ model, in seed
    order; a seed_<s>/ model named on its own keeps its seed s; any other path gets NO_TRAIN_SEED ('')."""
    expanded = []
    for label, path in entries:
        seeds = family_seeds(path)
        own = re.fullmatch(r'seed_(\d+)', os.path.basename(os.path.normpath(path)))
        expanded += ([(label, seed, os.path.join(path, f'seed_{seed}')) for seed in seeds]
                     or [(label, int(own.group(1)) if own else NO_TRAIN_SEED, path)])
    return expanded


def _check_model_folder(path, setting):
    """A local folder must hold a model: without config.json transformers fails far from the cause."""
    if os.path.isdir(path) and not os.path.isfile(os.path.join(path, 'config.json')):
        fail(f"{setting}: {path} holds no model (no config.json); give a Hugging Face model folder, a hub name or "
             f"a state-dict file ({', '.join(STATE_DICT_SUFFIXES)})")


def load_config(path, setting, n_head=0):
    if is_state_dict(path):
        return gpt2_config(read_state_dict(path, setting), path, setting, n_head)
    _check_model_folder(path, setting)
    return from_pretrained(AutoConfig, path, setting)


def load_tokenizer(path, setting, tokenizer_dir=''):
    """A model folder's or hub model's own tokenizer; for a state-dict file (or with `tokenizer_dir`), the tokenizer
    in `tokenizer_dir` or else in the file's folder: tokenizer.json, or GPT-2's vocab.json + merges.txt."""
    if not is_state_dict(path) and not tokenizer_dir:
        _check_model_folder(path, setting)
        return from_pretrained(AutoTokenizer, path, setting)
    folder = tokenizer_dir or os.path.dirname(os.path.abspath(path))
    name = 'tokenizers' if tokenizer_dir else setting
    check(os.path.isdir(folder), f"{name}: tokenizer folder {folder} does not exist")
    files = {file: os.path.join(folder, file) for file in ('tokenizer.json', 'vocab.json', 'merges.txt')}
    if os.path.isfile(files['tokenizer.json']):
        tokenizer = PreTrainedTokenizerFast(tokenizer_file=files['tokenizer.json'])
    elif os.path.isfile(files['vocab.json']) and os.path.isfile(files['merges.txt']):
        # GPT-2's byte-level BPE, built with the tokenizers library: in transformers 5,
        # GPT2TokenizerFast(vocab_file=..., merges_file=...) silently builds an empty vocabulary.
        tokenizer = PreTrainedTokenizerFast(tokenizer_object=byte_level_bpe(models.BPE.from_file(files['vocab.json'],
                                                                                                 files['merges.txt'])))
    else:
        fail(f"{name}: {folder} holds no tokenizer: it needs vocab.json + merges.txt (GPT-2's format) or "
             f"tokenizer.json")
    check(len(tokenizer) > 0, f"{name}: the tokenizer in {folder} has an empty vocabulary")
    if END_OF_TEXT in tokenizer.get_vocab():
        tokenizer.bos_token = tokenizer.eos_token = END_OF_TEXT
    return tokenizer


def check_vocabulary(tokenizer, config, label, setting='tokenizers'):
    """Every token id of the tokenizer must have an embedding row."""
    check(len(tokenizer) <= config.vocab_size,
          f"{setting}: the tokenizer of {label} has {len(tokenizer)} tokens, more than the model's {config.vocab_size} "
          f"embedding rows")


def load_model(auto_class, path, setting, n_head=0, **kwargs):
    """`auto_class.from_pretrained(path, **kwargs)`; for a state-dict file, the inferred GPT-2 with the file's weights
    (a sequence classifier takes the transformer and gets a new `score` head)."""
    if not is_state_dict(path):
        _check_model_folder(path, setting)
        return from_pretrained(auto_class, path, setting, **kwargs)
    state = read_state_dict(path, setting)
    config = gpt2_config(state, path, setting, n_head)
    for name, value in kwargs.items():  # as from_pretrained does with keyword arguments that are config fields
        setattr(config, name, value)
    model = auto_class.from_config(config)
    if auto_class is AutoModelForSequenceClassification:
        state.pop('lm_head.weight', None)
    missing, unexpected = model.load_state_dict(state, strict=False)
    new_head = {'lm_head.weight'} if auto_class is not AutoModelForSequenceClassification else {'score.weight'}
    check(not unexpected and set(missing) <= new_head,
          f"{setting}: {path} does not fit {type(model).__name__}: missing {missing[:4]}, unexpected {unexpected[:4]}")
    model.tie_weights()
    return model.eval()
