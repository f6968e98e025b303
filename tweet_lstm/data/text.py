"""Characters and cleaning: the seed's 93-character set, its handle filter, and the cleaning
a reader expects from modern tweets (entities, every kind of space, accented letters).

Works on pandas Series of str, vectorised with ``Series.str`` methods.
"""

import html
import re
import string
import unicodedata

import pandas as pd

from ..checks import check_int

CHARACTERS = (
    " !\"#$%&'()*+,-./0123456789:;=?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_"
    "abcdefghijklmnopqrstuvwxyz{|}~£"
)
"""The seed's universal character set: space, ASCII punctuation (not ``<``, ``>`` or the
backtick), digits, letters and ``£``; 93 characters."""

OUTSIDE_CHARACTERS = re.compile("[^" + re.escape(CHARACTERS) + "]")
_HANDLE_WORD = r" @[^ ]*"
_PREFIXED_HANDLE_WORD = " [" + re.escape(string.punctuation.replace("@", "")) + "]*@[^ ]*"
_WHITESPACE = re.compile(r"\s+")
_SPACES = re.compile(r" {2,}")
_MAX_CLEANING_PASSES = 10


def _check_series(name, texts):
    if not isinstance(texts, pd.Series):
        raise TypeError(f"{name} must be a pandas Series of str, got {type(texts).__name__}")
    return texts


def _without_handles(texts, pattern=_HANDLE_WORD):
    """Drop every word that ``pattern`` matches (by default: starts with ``@``), with one
    neighbouring space."""
    return (" " + texts).str.replace(pattern, "", regex=True).str.slice(1)


def filter_text_for_handles(text_series):
    """The seed's filter: ``@handle`` words, then characters outside ``CHARACTERS``, removed.

    A word is a run of characters between single spaces, as in the seed's
    ``' '.join(w for w in txt.split(' ') if not w.startswith('@'))``; the handle goes with
    one neighbouring space. Kept exactly as the seed had it; ``clean_tweet_text`` is the
    cleaning to use. Returns a new Series of str.
    """
    texts = _check_series("text_series", text_series)
    return _without_handles(texts).str.replace(OUTSIDE_CHARACTERS, "", regex=True)


def _latin_folding_table():
    """``str.translate`` table: accented Latin letters to their base letters (é -> e, ß -> ss)."""
    table = {}
    latin = list(range(0x00C0, 0x0250)) + list(range(0x1E00, 0x1F00))
    for point in latin:
        decomposed = unicodedata.normalize("NFD", chr(point))
        base, marks = decomposed[0], decomposed[1:]
        if base in string.ascii_letters and marks and all(unicodedata.combining(m) for m in marks):
            table[point] = base
    for letters, base in [("ßẞ", "ss"), ("æ", "ae"), ("Æ", "AE"), ("œ", "oe"), ("Œ", "OE"),
                          ("øǿ", "o"), ("ØǾ", "O"), ("ł", "l"), ("Ł", "L"), ("đð", "d"),
                          ("ĐÐ", "D"), ("þ", "th"), ("Þ", "Th"), ("ı", "i")]:
        for letter in letters:
            table[ord(letter)] = base
    return table


LATIN_FOLDING = _latin_folding_table()

PUNCTUATION_FOLDING = str.maketrans({
    **dict.fromkeys("\u2018\u2019\u201a\u201b\u2032\u02bc\u2039\u203a\uff07", "'"),
    **dict.fromkeys("\u201c\u201d\u201e\u201f\u2033\u00ab\u00bb\uff02", '"'),
    **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe63\uff0d", "-"),
    "\u2026": "...", "\u2024": ".", "\u2025": "..", "\u2044": "/", "\u2215": "/",
    "\uff01": "!", "\uff1f": "?", "\uff0c": ",", "\uff0e": ".", "\uff1a": ":", "\uff1b": ";",
})
"""``str.translate`` table: typographic punctuation to its ASCII twin (’ ‘ -> ', “ ” « » -> ",
the dashes, hyphens and minus -> -, … -> ..., fullwidth ! ? , . : ; to their ASCII forms)."""

_FOLDING = {**LATIN_FOLDING, **PUNCTUATION_FOLDING}  # both in one pass over the text


def _clean_once(texts):
    """One pass of ``clean_tweet_text``'s steps over a Series of str."""
    has_entity = texts.str.contains("&", regex=False)
    if has_entity.any():
        texts = texts.where(~has_entity, texts[has_entity].map(html.unescape))
    texts = texts.str.replace(_WHITESPACE, " ", regex=True).str.translate(_FOLDING)
    texts = _without_handles(texts.str.replace(OUTSIDE_CHARACTERS, "", regex=True),
                             _PREFIXED_HANDLE_WORD)
    return texts.str.replace(_SPACES, " ", regex=True).str.strip()


def clean_tweet_text(text_series):
    """Clean a Series of tweets for the model; returns a new Series of str (never NaN).

    In order: HTML entities are unescaped (``&amp;`` -> ``&``); every run of whitespace
    (newline, tab, no-break space, ...) becomes one space; accented Latin letters fold to
    their base letter (``Québec`` -> ``Quebec``, ``ß`` -> ``ss``); typographic punctuation
    folds to its ASCII twin (``don’t`` -> ``don't``, ``…`` -> ``...``, see
    ``PUNCTUATION_FOLDING``); other characters outside ``CHARACTERS`` are removed; handle
    words go as in ``filter_text_for_handles``, and so do handles behind punctuation
    (``.@name``, ``"@name``, ``(@name``); that step comes after the characters, so a
    handle behind a removed one, as in ``❤@name``, goes too; runs of
    spaces collapse and the ends are stripped. The steps repeat on any tweet they still
    change (an entity can hide inside another, ``&amp;lt;``), so cleaning is idempotent:
    a cleaned tweet comes through a second cleaning unchanged. A tweet can end up empty;
    ``drop_empty_tweets`` removes and counts those.
    """
    texts = _check_series("text_series", text_series)
    missing = texts.isna()
    if missing.any():
        raise ValueError(f"text_series has {int(missing.sum())} missing value(s), first at index "
                         f"{texts.index[missing.to_numpy()][0]!r}; read tweets with read_tweet_data")
    cleaned = _clean_once(texts.astype(str))
    for _ in range(_MAX_CLEANING_PASSES):
        again = _clean_once(cleaned)
        changed = again != cleaned
        if not changed.any():
            return cleaned
        cleaned = again
    raise RuntimeError("clean_tweet_text did not settle; please report the tweet")


def drop_empty_tweets(tweets):
    """``(kept, n_dropped)``: the DataFrame ``tweets`` without rows whose ``text`` is empty.

    Use after ``clean_tweet_text``: a tweet of only emojis or handles cleans to nothing,
    and an empty tweet teaches the model nothing but ``<end>``. The index is reset.
    """
    empty = tweets["text"].str.len().to_numpy() == 0
    return tweets.loc[~empty].reset_index(drop=True), int(empty.sum())


def pad_text(text, length=160):
    """Left-pad ``text`` with spaces to ``length`` characters, or cut it to its first ``length``."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__} ({text!r})")
    length = check_int("length", length, minimum=0)
    return text[:length].rjust(length)


def get_unique_chars_list(strings):
    """``(chars, char_index)``: the sorted distinct characters of ``strings`` and their positions."""
    if isinstance(strings, str):
        strings = [strings]
    chars = sorted(set("".join(strings)))
    return chars, {char: i for i, char in enumerate(chars)}


def get_universal_chars_list():
    """``(chars, char_index)`` for the 93-character universal set ``CHARACTERS``.

    ``chars`` is a sorted list (space, punctuation, digits, letters, ``£``) and
    ``char_index`` maps each character to its position in it.
    """
    return get_unique_chars_list(CHARACTERS)


def get_emojis_list(emoji_series):
    """``(emojis, emoji_index)``: the sorted distinct emojis (str) and their positions.

    Missing values (NaN, None, empty strings) are not emojis and are left out.
    """
    present = [e for e in emoji_series if isinstance(e, str) and e != ""]
    emojis = sorted(set(present))
    return emojis, {emoji: i for i, emoji in enumerate(emojis)}


def filter_tweets_min_count(tweets, min_count=1000):
    """The rows of ``tweets`` whose emoji labels more than ``min_count`` tweets (a DataFrame).

    Rows with a missing emoji are dropped: they belong to no emoji's count.
    """
    if not isinstance(tweets, pd.DataFrame) or "emoji" not in tweets.columns:
        raise ValueError("tweets must be a DataFrame with an 'emoji' column"
                         + (f"; its columns are {list(tweets.columns)}" if isinstance(tweets, pd.DataFrame) else ""))
    min_count = check_int("min_count", min_count, minimum=0)
    counts = tweets["emoji"].map(tweets["emoji"].value_counts())
    return tweets.loc[counts > min_count]
