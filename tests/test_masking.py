"""Masking: each secret in all the forms it is printed in, and across chunk boundaries."""

from __future__ import annotations

import base64
from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ops_toolkit.masking import MASK, Masker, secret_forms, too_short

SECRET = "s3cr3t-T0KEN-value"


def b64(data: str) -> str:
    return base64.b64encode(data.encode()).decode()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"token={SECRET}\n", "token=***\n"),
        (f"{b64(SECRET)}\n", "***\n"),
        (base64.urlsafe_b64encode(b"\xfb" + SECRET.encode()).decode(), None),
        (f"?token={quote(SECRET + ' &/')}", None),
    ],
    ids=["as written", "base64 of the secret alone", "url-safe base64 after a byte", "url-encoded"],
)
def test_a_secret_is_masked_as_written_and_encoded(text: str, expected: str | None) -> None:
    masked = Masker([SECRET, SECRET + " &/"])(text)
    if expected is not None:
        assert masked == expected
    assert MASK in masked
    assert SECRET not in masked and b64(SECRET)[:-4] not in masked


def test_a_secret_inside_a_longer_base64_text_is_masked_at_any_alignment() -> None:
    for prefix in ("", "u", "us", "user:"):
        encoded = b64(prefix + SECRET)
        masked = Masker([SECRET])(f"Basic {encoded}")
        # What stays in clear are the characters that also carry bits of the prefix (at the
        # start) and of the padding (at the end): at most one byte of the secret each side.
        start = 4 * (len(prefix) // 3) + (0, 2, 3)[len(prefix) % 3]
        tail = (0, 3, 2)[(len(prefix) + len(SECRET)) % 3]  # a last data character and '='s
        assert masked == f"Basic {encoded[:start]}***{encoded[len(encoded) - tail :]}"


def test_a_secret_escaped_inside_a_json_string_is_masked() -> None:
    secret = 'pa"ss\\wörd'
    assert Masker([secret])('{"a": "pa\\"ss\\\\w\\u00f6rd", "b": "pa\\"ss\\\\wörd"}') == (
        '{"a": "***", "b": "***"}'
    )


def test_percent_escapes_in_lower_case_are_masked_too() -> None:
    secret = "p@ss/w rd"
    assert Masker([secret])("p%40ss%2fw%20rd and p%40ss%2Fw+rd") == "*** and ***"


def test_short_values_are_too_short_to_mask() -> None:
    assert [too_short(v) for v in ("", "x", "abc", "abcd")] == [False, True, True, False]
    assert Masker(["x"])("exit code") == "exit code"
    assert secret_forms("") == set()


def test_the_longest_form_wins() -> None:
    assert Masker(["abcd", "abcdef"])("abcdefg abcd") == "***g ***"


def test_a_stream_masks_a_secret_split_at_any_point() -> None:
    text = f"before {SECRET} after"
    for cut in range(len(text) + 1):
        stream = Masker([SECRET]).stream()
        shown = stream.feed(text[:cut]) + stream.feed(text[cut:]) + stream.flush()
        assert shown == "before *** after", cut


def test_a_stream_holds_back_only_what_could_start_a_secret() -> None:
    stream = Masker(["firstrest"]).stream()
    assert stream.feed("hello ") == "hello "
    assert stream.feed("well, fir") == "well, "
    assert stream.feed("e!") == "fire!"
    assert stream.feed("first") == ""
    assert stream.feed("rest.") == "***."
    assert stream.feed("firs") == ""
    assert stream.flush() == "firs"


_TEXT = st.text(alphabet=st.characters(blacklist_characters="*"), max_size=30)


@settings(max_examples=200, deadline=None)
@given(
    secret=st.text(alphabet=st.characters(blacklist_characters="*"), min_size=4, max_size=12),
    before=_TEXT,
    after=_TEXT,
    cuts=st.lists(st.integers(min_value=0, max_value=80), max_size=6),
)
def test_a_streamed_secret_never_shows_however_the_output_is_cut(
    secret: str, before: str, after: str, cuts: list[int]
) -> None:
    text = before + secret + after
    stream = Masker([secret]).stream()
    shown, position = [], 0
    for cut in sorted(c for c in cuts if c <= len(text)):
        shown.append(stream.feed(text[position:cut]))
        position = cut
    shown += [stream.feed(text[position:]), stream.flush()]
    assert secret not in "".join(shown)
    assert "".join(shown) == Masker([secret])(text)


def test_a_secret_with_a_lone_surrogate_is_masked_not_a_crash() -> None:
    secret = "ab\ud800cd"
    assert Masker([secret])(f"x {secret} y") == "x *** y"


@pytest.mark.parametrize(
    ("text", "index", "cut"),
    [
        ("xxxxSECRETyy", 6, 10),
        ("xxxxSECRETyy", 4, 4),
        ("xxxxSECRETyy", 10, 10),
        ("SECRETSECRETz", 3, 6),
        ("SECRETSECRETz", 8, 12),
        ("xxSECRET", 5, 8),
        ("no secret here", 5, 5),
    ],
    ids=[
        "inside a secret: after it",
        "at its start: kept whole",
        "at its end: nothing split",
        "two in a row, inside the first",
        "two in a row, inside the second",
        "inside a secret at the end",
        "no secret: where asked",
    ],
)
def test_a_safe_cut_never_splits_a_secret(text: str, index: int, cut: int) -> None:
    assert Masker(["SECRET"]).safe_cut(text, index) == cut


def test_a_safe_cut_also_steps_over_encoded_forms() -> None:
    encoded = base64.b64encode(b"SECRET").decode()  # U0VDUkVU
    text = f"abc{encoded}def"
    assert Masker(["SECRET"]).safe_cut(text, 5) == 3 + len(encoded)
