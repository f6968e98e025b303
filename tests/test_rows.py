"""Streaming reads exactly the rows that ``read_tweet_data`` reads, or fails up front naming the line."""

import csv

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers import tweets_frame
from tweet_lstm.files import write_csv_atomically
from tweet_lstm.rows import CsvRows, FrameRows
from tweet_lstm.tweet_csv import read_tweet_data

WORDS = st.sampled_from(["hello", "5'11\" tall", "a,b", "quote \"\" twice", "Québec", "東京", "😀🔥",
                         "NA", "null", " ", "text", "x\"y", "end\"", "\\", "tab\there", "é́"])


@st.composite
def csv_field(draw):
    """One CSV field as pandas' default dialect reads it: quoted (anything inside) or bare."""
    content = " ".join(draw(st.lists(WORDS, max_size=4)))
    if draw(st.booleans()):
        inner = content + draw(st.sampled_from(["", ",", "\n", "\r\n", "\n\nblank", '"'])) + content
        return '"' + inner.replace('"', '""') + '"'
    bare = content.replace(",", " ").lstrip('"')  # a bare field: no comma, no newline, no opening quote
    return bare


@st.composite
def csv_file(draw):
    """The bytes of a tweets CSV with stray and doubled quotes, commas, newlines, CRLF, a BOM, blank lines."""
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    lines = ["text,emoji,split"]
    for _ in range(draw(st.integers(min_value=0, max_value=25))):
        kind = draw(st.sampled_from(["row"] * 8 + ["blank", "header", "empty text"]))
        if kind == "blank":
            lines.append("")
        elif kind == "header":
            lines.append("text,emoji,split")
        else:
            text = "" if kind == "empty text" else draw(csv_field())
            emoji = draw(st.sampled_from(["🔥", "❤", ""]))
            lines.append(f"{text},{emoji},{draw(st.sampled_from(['train', 'val', 'test']))}")
    body = newline.join(lines) + draw(st.sampled_from(["", newline]))
    return (b"\xef\xbb\xbf" if draw(st.booleans()) else b"") + body.encode("utf-8")


def streamed(rows):
    """Every row a row source serves, in file order."""
    blocks = [rows.block(b) for b in range(len(rows.block_sizes))]
    return pd.concat(blocks, ignore_index=True) if blocks else pd.DataFrame(columns=["text", "emoji"])


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(raw=csv_file(), block_rows=st.integers(min_value=1, max_value=5))
def test_streaming_a_generated_csv_serves_exactly_the_rows_read_tweet_data_reads(tmp_path, raw, block_rows):
    path = tmp_path / "tweets.csv"
    path.write_bytes(raw)
    try:
        expected = read_tweet_data(path)
    except ValueError:
        with pytest.raises(ValueError, match=r"tweets\.csv"):
            CsvRows(path, block_rows, clean=False)
        return
    rows = CsvRows(path, block_rows, clean=False)
    got = streamed(rows)
    assert rows.n_rows == len(expected) == len(got)
    assert got["text"].tolist() == expected["text"].tolist()
    assert got["emoji"].fillna("").tolist() == expected["emoji"].fillna("").tolist()
    assert rows.dropped["header repeated"] == expected.attrs["dropped"]["header repeated"]
    assert rows.dropped["empty text"] == expected.attrs["dropped"]["empty text"]


def test_a_stray_quote_in_a_bare_field_loses_no_row(tmp_path):
    lines = ["text,emoji"] + [f"I am 5'11\" tall, row {i}".replace(",", "") + ",🔥" for i in range(1000)]
    path = tmp_path / "t.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert len(read_tweet_data(path)) == 1000
    rows = CsvRows(path, 64, clean=False)
    assert rows.n_rows == 1000 and len(streamed(rows)) == 1000


def test_multi_line_tweets_and_quotes_survive_streaming(tmp_path):
    texts = ['line one\nline "two", with comma', "plain", '"quoted"\n\n', "last, one"] * 5
    path = write_csv_atomically(pd.DataFrame({"text": texts, "emoji": ["🔥"] * len(texts)}), tmp_path / "t.csv")
    assert streamed(CsvRows(path, 3, clean=False))["text"].tolist() == texts


def bad_byte_deep_in_a_large_file():
    """A 5,000-row tweets CSV whose row 4,321 (line 4,323) holds a byte that is not UTF-8."""
    raw = tweets_frame(5000).to_csv(index=False, quoting=csv.QUOTE_ALL).encode("utf-8")
    return raw.replace(b"tweet number 4321 ", b"tweet number 4321 \xff", 1)


@pytest.mark.parametrize("content,where", [
    (b'text,emoji\nfine,x\nalso fine,x\n"never closed,x\nmore,x\n', "line"),
    (b"text,emoji\nfine,x\n" + "caf\u00e9".encode("latin-1") + b",x\n", "line 3: byte 0xe9"),
    (b"text,emoji\nfine,x\ntoo,many,fields\n", "line"),
    (bad_byte_deep_in_a_large_file(), "line 4323: byte 0xff"),
])
def test_a_malformed_file_fails_at_construction_naming_file_and_line(tmp_path, content, where):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=rf"bad\.csv.*{where}"):
        CsvRows(path, 256)
    with pytest.raises(ValueError, match=r"bad\.csv" + (rf", {where}" if "byte" in where else "")):
        read_tweet_data(path)


def test_tweets_that_cleaning_empties_are_dropped_and_counted_on_both_paths(tmp_path):
    frame = pd.DataFrame({"text": ["kept one", "@user", "😀", "kept two", ""], "emoji": ["x"] * 5})
    path = write_csv_atomically(frame, tmp_path / "t.csv")
    for rows in (FrameRows(frame, 2), CsvRows(path, 2)):
        assert rows.n_rows == 2 == rows.block_sizes.sum()
        assert rows.dropped == {"header repeated": 0, "empty text": 1, "empty after cleaning": 2}
        assert streamed(rows)["text"].tolist() == ["kept one", "kept two"]


def test_the_emoji_column_is_required_only_with_an_emoji_set(tmp_path):
    path = write_csv_atomically(pd.DataFrame({"text": ["a", "b"]}), tmp_path / "t.csv")
    assert CsvRows(path, 2).n_rows == 2
    with pytest.raises(ValueError, match=r"t\.csv: missing column\(s\) \['emoji'\] \(emoji_set needs"):
        CsvRows(path, 2, emoji_set=["🔥"])


def test_an_emoji_outside_the_emoji_set_or_missing_names_its_line(tmp_path):
    path = write_csv_atomically(pd.DataFrame({"text": ["a", "b", "c"], "emoji": ["🔥", "🔥", None]}),
                                tmp_path / "t.csv")
    with pytest.raises(ValueError, match=r"t\.csv, line 4: emoji nan is not in emoji_set"):
        CsvRows(path, 2, emoji_set=["🔥"])
    with pytest.raises(ValueError, match=r"row 2: emoji nan is not in emoji_set"):
        FrameRows(read_tweet_data(path), 2, emoji_set=["🔥"])


def test_a_file_changed_after_indexing_is_an_error_not_a_wrong_batch(tmp_path):
    path = write_csv_atomically(tweets_frame(10), tmp_path / "t.csv")
    rows = CsvRows(path, 4)
    path.write_text(path.read_text(encoding="utf-8").replace('"tweet number 1 xx"', '"😀"'), encoding="utf-8")
    with pytest.raises(ValueError, match="changed since the dataset was made"):
        rows.block(0)


def test_frame_rows_deal_a_new_permutation_for_each_shuffle_key():
    rows = FrameRows(tweets_frame(20), 8)
    first = rows.block(0, (0, 0))["text"].tolist()
    assert first == rows.block(0, (0, 0))["text"].tolist() != rows.block(0, (0, 1))["text"].tolist()
    served = [t for b in range(3) for t in rows.block(b, (0, 1))["text"]]
    assert sorted(served) == sorted(tweets_frame(20)["text"]) and np.diff(rows.block_sizes).sum() == -4
