"""The offline Bible corpora and the document-file reader."""

import collections

import pytest

from robustness.corpora import (BOOK_NAMES, DEFAULT_EVAL_BOOKS, book_name, book_of, chapters, english_verses,
                                read_documents, ukrainian_verses)


def chapter_sizes(verses):
    return collections.Counter(v // 1000 for v in verses)


def test_english_verses():
    web = english_verses()
    assert 31_000 < len(web) < 31_200 and len(web) == len(english_verses('WEB'))
    assert web[1001001] == 'In the beginning God created the heavens and the earth.'
    assert web[43011035] == 'Jesus wept.'
    assert all(text and text == ' '.join(text.split()) for text in web.values())  # no runs of spaces
    assert not any(c in text for text in web.values() for c in '`[]')
    assert "God's Spirit" in web[1001002]
    assert english_verses('kjv')[1001001] == 'In the beginning God created the heaven and the earth.'
    assert english_verses('asv')[19003002].endswith('in God. Selah')  # the ASV has "God.[Selah"
    assert 31_000 < len(english_verses('asv')) < len(web)  # the ASV leaves a few verses empty: dropped
    with pytest.raises(ValueError, match='web, kjv, asv'):
        english_verses('bbe')


def test_english_verses_is_a_copy():
    english_verses()[1001001] = 'edited'
    assert english_verses()[1001001].startswith('In the beginning')


def test_books():
    assert book_of(1001001) == 1 and book_of(66022021) == 66
    assert len(BOOK_NAMES) == 66 and book_name(1) == 'Genesis' and book_name(41) == 'Mark'
    assert {book_of(v) for v in english_verses()} == set(BOOK_NAMES)


def test_ukrainian_aligned():
    web, uk = english_verses(), ukrainian_verses()
    assert uk[1001001] == 'На початку Бог створив Небо та землю.'
    assert 'Пастир' in uk[19023001]  # Psalm 23:1, "The Lord is my shepherd"
    assert 'Боже' in uk[19051001]  # Psalm 51:1, after its two title verses were dropped
    assert 'Ісус' in uk[43011035]  # John 11:35, "Jesus wept"
    assert 'Авесалом' not in uk[19003001]  # Psalm 3's title names Absalom: dropped
    assert 'Ахімелех' in uk[9021001] and 'Ahimelech' in web[9021001]  # 1 Samuel 21:1
    en_sizes, uk_sizes = chapter_sizes(web), chapter_sizes(uk)
    assert set(en_sizes) == set(uk_sizes) and len(en_sizes) == 1189
    same = sum(en_sizes[c] == uk_sizes[c] for c in en_sizes)
    assert same >= 0.98 * len(en_sizes)
    assert all(text and text == ' '.join(text.split()) for text in uk.values())


def test_chapters():
    web = english_verses()
    documents = chapters(web)
    assert len(documents) == 1189
    assert documents[0].startswith('In the beginning God created') and documents[0].endswith('the sixth day.')
    assert documents[-1].endswith('Amen.')
    train = chapters(web, exclude_books=DEFAULT_EVAL_BOOKS)
    evaluation = chapters(web, books=DEFAULT_EVAL_BOOKS)
    assert len(train) + len(evaluation) == len(documents)
    assert not set(train) & set(evaluation)
    jonah_1 = ' '.join(text for v, text in web.items() if v // 1000 == 32001)
    assert jonah_1 in evaluation and jonah_1 not in train
    assert chapters(web, books={8}) == chapters(web, books={8, 32}, exclude_books={32})  # Ruth
    assert len(chapters(ukrainian_verses(), books=DEFAULT_EVAL_BOOKS)) == len(evaluation)
    # held-out books are 3 to 5 varied books making up roughly 5-8% of the text
    eval_chars = sum(map(len, evaluation))
    assert 3 <= len(DEFAULT_EVAL_BOOKS) <= 5 and 0.04 < eval_chars / sum(map(len, documents)) < 0.08


def test_read_documents(tmp_path):
    path = tmp_path / 'docs.txt'
    path.write_bytes('\ufefffirst document \r\n\n  \nsecond, with \ufffd kept\nthird\n'.encode())
    assert read_documents(str(path), 'train_file') == (['first document', 'second, with \ufffd kept', 'third'], 0)
    # an invalid byte, a truncated 3-byte sequence, and a genuine U+FFFD that must not be counted
    path.write_bytes(b'caf\xe9 one\n\xe2\x82 two \xef\xbf\xbd\n')
    documents, replaced = read_documents(str(path), 'train_file')
    assert documents == ['caf\ufffd one', '\ufffd two \ufffd'] and replaced == 2


@pytest.mark.parametrize('content, message', [(None, 'does not exist'), (b'', 'is empty'),
                                              (b'\n  \r\n\t\n', 'has only blank lines')])
def test_read_documents_errors(tmp_path, content, message):
    path = tmp_path / 'docs.txt'
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ValueError, match=f'^second_file: .*docs.txt {message}'):
        read_documents(str(path), 'second_file')
    with pytest.raises(ValueError, match='is not a file'):
        read_documents(str(tmp_path), 'second_file')
