"""Characters and cleaning of Series of tweets: the seed's 93-character set and handle filter, and the cleaning
modern tweets need (entities, every kind of space, accented letters, typographic punctuation)."""

import html
import re
import string
import unicodedata

import pandas as pd

from ..checks import check_int

CHARACTERS = " !\"#$%&'()*+,-./0123456789:;=?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_abcdefghijklmnopqrstuvwxyz{|}~£"
"""The seed's 93 characters: space, ASCII punctuation (not ``<``, ``>`` or the backtick), digits, letters, ``£``."""

OUTSIDE_CHARACTERS = re.compile("[^" + re.escape(CHARACTERS) + "]")


def _check_series(name, texts):
    if not isinstance(texts, pd.Series):
        raise TypeError(f"{name} must be a pandas Series of str, got {type(texts).__name__}")
    return texts


def filter_text_for_handles(text_series):
    """The seed's filter, kept as it was (``clean_tweet_text`` is the cleaning to use): a new Series of str
    without ``@handle`` words (as the seed's ``' '.join(w for w in txt.split(' ') if not w.startswith('@'))``,
    each with one neighbouring space) and then without the characters outside ``CHARACTERS``."""
    texts = (" " + _check_series("text_series", text_series)).str.replace(r" @[^ ]*", "", regex=True)
    return texts.str.slice(1).str.replace(OUTSIDE_CHARACTERS, "", regex=True)


def _latin_folding_table():
    """``str.translate`` table: accented Latin letters to their base letters (é -> e, ß -> ss)."""
    table = {}
    for point in [*range(0x00C0, 0x0250), *range(0x1E00, 0x1F00)]:
        base, *marks = unicodedata.normalize("NFD", chr(point))
        if base in string.ascii_letters and marks and all(map(unicodedata.combining, marks)):
            table[point] = base
    return table | {ord(letter): base for letters, base in [
        ("ßẞ", "ss"), ("æ", "ae"), ("Æ", "AE"), ("œ", "oe"), ("Œ", "OE"), ("øǿ", "o"), ("ØǾ", "O"), ("ł", "l"),
        ("Ł", "L"), ("đð", "d"), ("ĐÐ", "D"), ("þ", "th"), ("Þ", "Th"), ("ı", "i")] for letter in letters}


LATIN_FOLDING = _latin_folding_table()

PUNCTUATION_FOLDING = str.maketrans({
    **dict.fromkeys("\u2018\u2019\u201a\u201b\u2032\u02bc\u2039\u203a\uff07", "'"),
    **dict.fromkeys("\u201c\u201d\u201e\u201f\u2033\u00ab\u00bb\uff02", '"'),
    **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe63\uff0d", "-"),
    "\u2026": "...", "\u2024": ".", "\u2025": "..", "\u2044": "/", "\u2215": "/",
    "\uff01": "!", "\uff1f": "?", "\uff0c": ",", "\uff0e": ".", "\uff1a": ":", "\uff1b": ";",
})
"""``str.translate`` table: typographic punctuation (quotes, dashes, ellipsis, fullwidth forms) to its ASCII twin."""


class _CleaningTable(dict):
    """``str.translate`` table of cleaning: the 93 characters kept, folds (``LATIN_FOLDING``,
    ``PUNCTUATION_FOLDING``), any whitespace to a space, any other character removed (looked up once)."""

    def __missing__(self, point):
        self[point] = " " if chr(point).isspace() else None
        return self[point]


_CLEANING = _CleaningTable({**{ord(c): c for c in CHARACTERS}, **LATIN_FOLDING, **PUNCTUATION_FOLDING})
_HANDLE_WORDS = re.compile(" [" + re.escape(string.punctuation.replace("@", "")) + "]*@[^ ]*")


def _clean(text):
    """One tweet (str) cleaned by ``clean_tweet_text``'s steps, repeated until it settles."""
    while True:
        if "&" in text:
            text = html.unescape(text)
        text = text.translate(_CLEANING)
        if "@" in text:
            text = _HANDLE_WORDS.sub("", " " + text)
        text = " ".join(text.split()) if "  " in text else text.strip()
        if "&" not in text or html.unescape(text) == text:
            return text


def clean_tweet_text(text_series):
    """Clean a Series of tweets for the model; returns a new Series of str (never NaN), same index. In order: HTML
    entities are unescaped (``&amp;`` -> ``&``); any whitespace becomes a space; accented Latin letters fold to their
    base letter (``Québec`` -> ``Quebec``, ``ß`` -> ``ss``, ``LATIN_FOLDING``) and typographic punctuation to its ASCII
    twin (``don’t`` -> ``don't``, ``PUNCTUATION_FOLDING``); other characters outside ``CHARACTERS`` are removed; then
    handle words go as in ``filter_text_for_handles``, also behind punctuation or a removed character (``.@name``,
    ``(@name``, ``❤@name``); runs of spaces collapse and the ends are stripped. A tweet holding an entity that a pass
    made (``&amp;lt;`` -> ``&lt;``) is cleaned again until it settles, so cleaning is idempotent. Raises ``TypeError``
    for anything but a Series, ``ValueError`` for a missing value. A tweet can end up empty (``drop_empty_tweets``)."""
    texts = _check_series("text_series", text_series)
    missing = texts.isna()
    if missing.any():
        raise ValueError(f"text_series has {int(missing.sum())} missing value(s), first at index "
                         f"{texts.index[missing.to_numpy()][0]!r}; read tweets with read_tweet_data")
    return pd.Series(list(map(_clean, texts.astype(str))), index=texts.index, dtype=str, name=texts.name)


def drop_empty_tweets(tweets):
    """``(kept, n_dropped)``: the DataFrame ``tweets`` without rows whose ``text`` is empty, index reset (after
    ``clean_tweet_text``, a tweet of only emojis or handles is empty, and teaches the model nothing)."""
    empty = tweets["text"].str.len().to_numpy() == 0
    return tweets.loc[~empty].reset_index(drop=True), int(empty.sum())


def pad_text(text, length=160):
    """Left-pad ``text`` with spaces to ``length`` characters, or cut it to its first ``length``."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__} ({text!r})")
    length = check_int("length", length, minimum=0)
    return text[:length].rjust(length)


def get_unique_chars_list(strings):
    """``(chars, char_index)``: the sorted distinct characters of ``strings`` (one str or many) and their positions."""
    chars = sorted(set("".join(strings)))
    return chars, {char: i for i, char in enumerate(chars)}


def get_universal_chars_list():
    """``(chars, char_index)`` for the 93-character universal set ``CHARACTERS``, as ``get_unique_chars_list``."""
    return get_unique_chars_list(CHARACTERS)


def get_emojis_list(emoji_series):
    """``(emojis, emoji_index)``: the sorted distinct emojis (str; NaN, None and "" left out) and their positions."""
    emojis = sorted({e for e in emoji_series if isinstance(e, str) and e != ""})
    return emojis, {emoji: i for i, emoji in enumerate(emojis)}


def filter_tweets_min_count(tweets, min_count=1000):
    """Rows of the DataFrame ``tweets`` whose emoji labels over ``min_count`` tweets (a missing emoji labels none)."""
    if not isinstance(tweets, pd.DataFrame) or "emoji" not in tweets.columns:
        raise ValueError("tweets must be a DataFrame with an 'emoji' column"
                         + (f"; its columns are {list(tweets.columns)}" if isinstance(tweets, pd.DataFrame) else ""))
    min_count = check_int("min_count", min_count, minimum=0)
    counts = tweets["emoji"].map(tweets["emoji"].value_counts())
    return tweets.loc[counts > min_count]
