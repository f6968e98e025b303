import html
import re
import string

import pandas as pd
import pytest
from conftest import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from tweet_lstm.data.text import (CHARACTERS, LATIN_FOLDING, OUTSIDE_CHARACTERS, PUNCTUATION_FOLDING, clean_tweet_text,
                                  drop_empty_tweets, filter_text_for_handles, filter_tweets_min_count, get_emojis_list,
                                  get_universal_chars_list, pad_text)

MESSY = st.text(alphabet=st.sampled_from(list(" @ab£`&;.(\n\t\u00a0é😀\ufe0f\u201c\u2019\u2026\u2014"))
                | st.characters(), max_size=40)


def seed_filter(txt):
    """The seed's per-row filter, the reference the vectorised one must match."""
    words = " ".join(w for w in txt.split(" ") if not w.startswith("@"))
    return "".join(c for c in words if c in CHARACTERS)


def test_filter_text_for_handles_removes_handles_and_characters_as_the_seed_did():
    text = pd.Series(["some text with a @handle", "more @text with handle",
                      "I`m an undesirable character", "@user first", "café £5 <b>"])
    assert filter_text_for_handles(text).tolist() == [
        "some text with a", "more with handle", "Im an undesirable character", "first", "caf £5 b"]


@settings(max_examples=examples(300), deadline=None)
@given(st.lists(MESSY, max_size=10))
def test_filter_text_for_handles_matches_the_seeds_per_row_filter(texts):
    assert filter_text_for_handles(pd.Series(texts, dtype=object)).tolist() == [seed_filter(t) for t in texts]


def test_clean_tweet_text_collapses_spaces_and_strips():
    text = pd.Series(["Venice with @user \ufe0f \ufe0f @ Abbot Kinney ", "  a  b  "])
    assert clean_tweet_text(text).tolist() == ["Venice with Abbot Kinney", "a b"]


def test_clean_tweet_text_drops_a_handle_hidden_behind_an_outside_character():
    text = pd.Series(["\u201c@user: so true\u201d", "hi \u00a0@user there"])
    assert filter_text_for_handles(text).tolist() == ["@user: so true", "hi @user there"]
    assert clean_tweet_text(text).tolist() == ['so true"', "hi there"]


def test_typographic_punctuation_folds_to_its_ascii_twin_instead_of_vanishing():
    text = pd.Series(["don\u2019t \u2018stop\u2019", "\u201cquoted\u201d \u00abfr\u00bb", "9\u201317 \u2014 x\u2011ray",
                      "and then\u2026", "wait\uff01"])
    assert clean_tweet_text(text).tolist() == ["don't 'stop'", '"quoted" "fr"', "9-17 - x-ray",
                                               "and then...", "wait!"]


def test_a_handle_behind_punctuation_goes_like_a_handle():
    text = pd.Series(["RT .@AyannaPressley makes history", "thanks (@user) and \u201c@user\u201d!",
                      "mail me@home.com", "a @ place"])
    assert clean_tweet_text(text).tolist() == ["RT makes history", "thanks and",
                                               "mail me@home.com", "a place"]


def test_every_kind_of_whitespace_becomes_one_space_instead_of_gluing_words():
    text = pd.Series(["so boring...\nhttps://t.co/x", "tab\tand\u00a0nbsp\u2009thin\r\nend", "a\u3000b"])
    assert clean_tweet_text(text).tolist() == ["so boring... https://t.co/x", "tab and nbsp thin end", "a b"]


def test_accented_latin_letters_fold_to_their_base_letter_instead_of_vanishing():
    text = pd.Series(["Québec #cafésociety", "Straße Ærø Łódź", "Ñandú naïve"])
    assert clean_tweet_text(text).tolist() == ["Quebec #cafesociety", "Strasse AEro Lodz", "Nandu naive"]


def test_html_entities_are_unescaped_even_when_escaped_twice():
    text = pd.Series(["fish &amp; chips", "1 &lt; 2 &gt; 0", "&quot;hi&quot; &#39;x&#39;", "&amp;amp; done"])
    assert clean_tweet_text(text).tolist() == ["fish & chips", "1 2 0", "\"hi\" 'x'", "& done"]


def test_a_tweet_of_only_emojis_and_handles_cleans_to_empty_and_is_dropped_and_counted():
    tweets = pd.DataFrame({"text": clean_tweet_text(pd.Series(["😀 😀", "@user", "kept"])), "emoji": list("abc")})
    kept, dropped = drop_empty_tweets(tweets)
    assert kept["text"].tolist() == ["kept"] and dropped == 2


ENTITIES = st.lists(st.sampled_from(["&", "amp;", "amp", "lt;", "#64;", "#8230;", "#10;", "szlig;", "hellip;", "@", ".",
                                      " ", "\n", "a", "x", "😀", "\uff1b", "\u2019", "é"]), max_size=12).map("".join)


def reference_clean(texts):
    """The documented steps one after another over the whole Series, repeated until nothing changes."""
    punctuation = re.escape(string.punctuation.replace("@", ""))
    while True:
        once = texts.map(html.unescape).str.replace(r"\s+", " ", regex=True)
        once = once.str.translate({**LATIN_FOLDING, **PUNCTUATION_FOLDING})
        once = once.str.replace(OUTSIDE_CHARACTERS, "", regex=True)
        once = (" " + once).str.replace(" [" + punctuation + "]*@[^ ]*", "", regex=True).str.slice(1)
        once = once.str.replace(" {2,}", " ", regex=True).str.strip()
        if once.equals(texts):
            return once
        texts = once


@settings(max_examples=examples(300), deadline=None)
@given(st.lists(MESSY | ENTITIES, max_size=10))
def test_clean_tweet_text_is_idempotent_and_stays_inside_the_character_set(texts):
    once = clean_tweet_text(pd.Series(texts, dtype=object))
    assert clean_tweet_text(once).tolist() == once.tolist()
    assert all(set(t) <= set(CHARACTERS) for t in once)
    assert not any("  " in t or t != t.strip() for t in once)


@settings(max_examples=examples(300), deadline=None)
@given(st.lists(MESSY | ENTITIES, max_size=10))
def test_cleaning_each_tweet_until_it_settles_gives_the_documented_steps_repeated_until_nothing_changes(texts):
    assert clean_tweet_text(pd.Series(texts, dtype=object)).tolist() == \
        reference_clean(pd.Series(texts, dtype=str)).tolist()


def test_a_tweet_holding_an_entity_that_cleaning_made_is_cleaned_again_until_it_settles():
    text = pd.Series(["&amp;lt;3 &amp;amp;amp; x", "&am😀p;#8230; y", "&amp;#64;user hi", "1 &amp;szlig; 2"])
    assert clean_tweet_text(text).tolist() == ["3 & x", "... y", "hi", "1 ss 2"]


@pytest.mark.parametrize("bad,error", [(["a list"], TypeError), (pd.Series(["ok", None]), ValueError)])
def test_cleaning_rejects_what_is_not_a_series_of_str(bad, error):
    with pytest.raises(error, match="text_series"):
        clean_tweet_text(bad)


def test_universal_chars_list_is_the_seeds_93_sorted_characters():
    chars, char_index = get_universal_chars_list()
    assert len(chars) == 93 == len(set(chars))
    assert chars == sorted(chars)
    assert chars[0] == " " and chars[-1] == "£"
    assert all(char_index[c] == i for i, c in enumerate(chars))
    assert not set("<>`\t\n") & set(chars)


@given(st.text(max_size=300), st.integers(min_value=0, max_value=200))
def test_pad_text_left_pads_or_truncates_to_length(text, length):
    padded = pad_text(text, length)
    assert len(padded) == length
    if len(text) >= length:
        assert padded == text[:length]
    else:
        assert padded == " " * (length - len(text)) + text


@pytest.mark.parametrize("kwargs,name", [(dict(text=None), "text"), (dict(length=-1), "length"),
                                         (dict(length=2.5), "length")])
def test_pad_text_bad_input_names_the_argument(kwargs, name):
    with pytest.raises((TypeError, ValueError), match=name):
        pad_text(**({"text": "hi", "length": 5} | kwargs))


def test_a_missing_emoji_is_never_an_emoji():
    emojis, index = get_emojis_list(pd.Series(["🔥", float("nan"), None, "", "🎄", "🔥"]))
    assert emojis == ["🎄", "🔥"] and index == {"🎄": 0, "🔥": 1}


def test_filter_tweets_min_count_keeps_emojis_with_more_than_min_count():
    tweets = pd.DataFrame({"text": list("abcdefg"), "emoji": ["x", "x", "x", "y", "y", "z", None]})
    assert filter_tweets_min_count(tweets, min_count=1)["emoji"].tolist() == ["x", "x", "x", "y", "y"]
    assert filter_tweets_min_count(tweets, min_count=2)["emoji"].tolist() == ["x", "x", "x"]
    assert filter_tweets_min_count(tweets, min_count=3).empty


@pytest.mark.parametrize("tweets,kwargs,name", [
    (pd.DataFrame({"text": ["a"]}), {}, "emoji"), (pd.DataFrame({"emoji": ["a"]}), {"min_count": -1}, "min_count"),
])
def test_filter_tweets_min_count_bad_input_names_the_argument(tweets, kwargs, name):
    with pytest.raises(ValueError, match=name):
        filter_tweets_min_count(tweets, **kwargs)
