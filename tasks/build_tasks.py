"""Build the data of the offline lm-evaluation-harness tasks in tasks/ from the held-out books of the offline corpora
(the books no model trains on: robustness.corpora.DEFAULT_EVAL_BOOKS).

    python tasks/build_tasks.py                   # tasks/data/*.jsonl, read by tasks/*.yaml
    python tasks/build_tasks.py --eval_chars=32000 --choices_docs=1000

Tasks (each a YAML beside this script; test_gpt2.py runs them with `lm_eval_tasks` and `lm_eval_include=tasks`):
- bible_bpb_en, bible_bpb_uk: bits per byte (loglikelihood_rolling) of the first eval_chars characters of the
  held-out English and Ukrainian text, one document: the text test_gpt2.py scores by default;
- bible_last_word_en: which of four words ends a held-out English verse (multiple choice; the three others end other
  held-out verses): an ability, the use of the verse's context, rather than compression; chance is 0.25.
The files are written whole or not at all. They are data derived from pip-installed text, so they are built where
they are used (`make reproduce` builds them, and test_gpt2.py when a task first needs them) rather than committed.
"""

import json
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from robustness import corpora
from robustness.config import check_range, configure, settings_checked

# -----------------------------------------------------------------------------
eval_chars = 16000         # characters of each held-out text in the bits-per-byte tasks (cut at a line end; 0 = all); test_gpt2.py's eval_chars
choices_docs = 200         # verses in the multiple-choice task (at most every held-out verse of min_words words or more); each costs a damaged model four loglikelihoods per trial
min_words = 8              # a verse of the multiple-choice task has at least this many words
seed = 0                   # which verses, which wrong choices, where the right one sits
out_dir = 'tasks/data'     # where the .jsonl files go (the YAMLs read them from here, relative to the current folder)
# -----------------------------------------------------------------------------
configure(globals())
settings_checked()
check_range('eval_chars', eval_chars, 0)
check_range('choices_docs', choices_docs, 1)
check_range('min_words', min_words, 2)


def last_word_docs(verses, count, rng):
    """[{'context', 'choices', 'gold'}]: a verse without its last word, and four words, the right one at `gold`; the
    wrong ones end other verses of the same text and differ from the right one and from each other."""
    candidates = [text.split() for text in verses.values() if len(text.split()) >= min_words]
    endings = sorted({words[-1] for words in candidates})
    docs = []
    for words in rng.sample(candidates, min(count, len(candidates))):
        wrong = rng.sample([ending for ending in endings if ending != words[-1]], 3)
        gold = rng.randrange(4)
        choices = wrong[:gold] + [words[-1]] + wrong[gold:]
        docs.append({'context': ' '.join(words[:-1]), 'choices': choices, 'gold': gold})
    return docs


def write_jsonl(path, docs):
    """The documents as JSON lines, written to a temporary file and moved into place: whole or not at all."""
    os.makedirs(os.path.dirname(path) or '.', exist_ok=True)
    with open(path + '.part', 'w', encoding='utf-8') as f:
        f.writelines(json.dumps(doc, ensure_ascii=False) + '\n' for doc in docs)
    os.replace(path + '.part', path)
    print(f"wrote {path} ({len(docs)} documents)")


english, ukrainian = corpora.english_verses('web'), corpora.ukrainian_verses()
for language, verses in (('en', english), ('uk', ukrainian)):
    text = corpora.first_characters(corpora.held_out_text(verses), eval_chars)
    write_jsonl(os.path.join(out_dir, f'bible_bpb_{language}.jsonl'), [{'text': text}])
held_out = {v: text for v, text in english.items() if corpora.book_of(v) in corpora.DEFAULT_EVAL_BOOKS}
write_jsonl(os.path.join(out_dir, 'bible_last_word_en.jsonl'), last_word_docs(held_out, choices_docs, random.Random(seed)))
