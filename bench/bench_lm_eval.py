"""What lm-evaluation-harness costs inside test_gpt2.py's trials, next to the script's own bits per byte, and how far
the two bits per byte agree: on one of the offline default's models, intact and damaged, the seconds per trial of
  - test_gpt2.py's sliding-window bits per byte of the held-out English text (robustness.perplexity),
  - lm-eval's bible_bpb_en on the same text (loglikelihood_rolling through HFLM, robustness.harness),
  - lm-eval's bible_last_word_en (multiple choice, four loglikelihoods per verse),
and the relative difference between the two bits per byte, with its cause: the same model scored here on lm-eval's
rolling windows (the first token predicted from the end-of-text token; windows of `window` predicted tokens, where
test_gpt2.py's overlap by one token and predict window - 1) gives lm-eval's number.

    python bench/bench_lm_eval.py                       # after make reproduce (its model, text and task data)
    python bench/bench_lm_eval.py --passes=5 --level=0.5
"""

import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from robustness import harness
from robustness.config import check, configure, settings_checked
from robustness.corpora import first_characters
from robustness.perplexity import Perplexity, SlidingWindowNLL, encode
from robustness.perturb import perturbed

# -----------------------------------------------------------------------------
model = 'results/train_bilingual_gpt2/monolingual/seed_1337'  # a causal LM dir (run make reproduce first)
eval_file = 'results/train_bilingual_gpt2/eval_en.txt'  # the text test_gpt2.py scores
eval_chars = 16000         # test_gpt2.py's default; tasks/build_tasks.py cuts bible_bpb_en the same way
kind = 'random_deletion'   # the damage of the damaged trials
scope = 'attn'             # where
level = 0.3                # how much
batch_size = 32            # windows (own) and requests (lm-eval) per forward pass
passes = 3                 # timed passes per measurement (the median is printed)
# -----------------------------------------------------------------------------
configure(globals())
settings_checked()
for path in (model, eval_file, 'tasks/data/bible_bpb_en.jsonl'):
    check(os.path.exists(path), f"{path} does not exist: run make reproduce first (and bench from the repository root)")

tokenizer = AutoTokenizer.from_pretrained(model)
network = AutoModelForCausalLM.from_pretrained(model).eval()
window = network.config.n_positions
text = first_characters(open(eval_file, encoding='utf-8').read(), eval_chars)
token_ids = encode(tokenizer, text)
own = SlidingWindowNLL(network, token_ids, window, window, batch_size)
lm = harness.in_memory(network, tokenizer, window, batch_size, 'cpu')
tasks = {name: harness.load_tasks([name], 'tasks') for name in ('bible_bpb_en', 'bible_last_word_en')}


def own_bpb():
    nll, tokens = own()
    return Perplexity(nll, tokens, len(text.encode('utf-8'))).bpb


def lm_eval_windows_bpb():
    """Bits per byte of the text on lm-eval's rolling windows (lm_eval.utils), scored here with the model itself."""
    from lm_eval.utils import get_rolling_token_windows, make_disjoint_window
    nll = 0.0
    with torch.inference_mode():
        for context, predicted in map(make_disjoint_window, get_rolling_token_windows(
                token_ids.tolist(), lm.prefix_token_id, window, context_len=1)):
            ids = torch.tensor([context + predicted])[:, :window + 1]
            logits = network(ids[:, :-1]).logits[0, -len(predicted):]
            nll += torch.nn.functional.cross_entropy(logits.float(), torch.tensor(predicted), reduction='sum').item()
    return Perplexity(nll, len(token_ids), len(text.encode('utf-8'))).bpb


def task_value(name):
    return harness.metric_rows(harness.evaluate_tasks(lm, tasks[name]))[0][2]


def timed(function):
    """(median seconds, value) of `passes` calls."""
    seconds, value = [], None
    for _ in range(passes):
        start = time.perf_counter()
        value = function()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds), value


print(f"{model}: {sum(p.numel() for p in network.parameters()):,} parameters, window {window}, "
      f"{len(text):,} characters, {len(token_ids):,} tokens, {torch.get_num_threads()} threads")
for label, context in (('intact', None), (f'{kind} {level} on {scope}', (kind, level))):
    results = {}
    for name, function in (('own bpb', own_bpb), ('own, on lm-eval windows', lm_eval_windows_bpb),
                           ('lm-eval bible_bpb_en', lambda: task_value('bible_bpb_en')),
                           ('lm-eval bible_last_word_en (acc)', lambda: task_value('bible_last_word_en'))):
        if context is None:
            results[name] = timed(function)
        else:
            with perturbed(network, context[0], context[1], scope=scope, seed=0):
                results[name] = timed(function)
    base = results['own bpb'][0]
    print(f"\n{label}:")
    for name, (seconds, value) in results.items():
        print(f"  {name:34s} {seconds:7.2f} s per trial ({seconds / base:5.1f}x the own bpb)   value {value:.5f}")
    own_value, windowed, task = (results[name][1] for name in ('own bpb', 'own, on lm-eval windows',
                                                               'lm-eval bible_bpb_en'))
    print(f"  bits per byte, lm-eval against own: {task:.5f} vs {own_value:.5f}, {100 * (task / own_value - 1):+.3f}%; "
          f"against own on lm-eval's windows: {100 * (task / windowed - 1):+.5f}%")
