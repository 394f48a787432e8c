"""Secret values replaced by ``***`` in everything ops writes, prints or posts.

Each secret is masked as written and in the encodings a step is likely to print it in:
base64 (standard and URL-safe alphabets, at each of the three alignments it can take inside
a longer base64 text, as in an HTTP Basic ``Authorization`` header), URL-encoded (``%XX``
in upper or lower case, ``+`` for spaces) and escaped inside a JSON string. Masking is a safety net, not a guarantee: a step
that transforms a secret any other way (hex, reversed, hashed, split over lines, compressed,
printed one character at a time between other text) can still print it. Secrets shorter than
``MIN_SECRET_LENGTH`` are refused upstream: masking one would garble ordinary words (a
secret ``x`` turns "exit code" into "e***it code").

Secrets are matched on the text as a terminal shows it:
- terminal escape sequences (CSI such as colours, in its 7-bit ``ESC [`` and its 8-bit
  U+009B form, OSC such as titles and links, and the other ESC sequences) and zero-width
  characters (U+200B, U+200C, U+200D, U+2060, U+FEFF, the soft hyphen U+00AD) are invisible,
  so ``grep --color`` colouring part of a token must not hide it. Such a match covers the
  whole span, escapes inside it included.
- a carriage return (back to the line's first cell) or a backspace (one cell back) makes
  the text after it overwrite what the line showed: ``XXXRET\rSEC`` and ``SECX\bRET`` show
  ``SECRET``. Each line holding one is drawn in cells, as a terminal draws it, and searched
  too. A secret so drawn is masked from the line's first carriage return or backspace (never
  before it: a live stream may have shown that part already, and it did not show the
  secret) to the last character drawn of it, one ``*`` a character, the carriage returns
  and backspaces kept, so the line is drawn as before but for the masked cells:
  ``XXXRET\r***``, ``SECX\b***``. A secret in the line before its first overwrite is
  masked as everywhere (``***``), and the line is drawn over the masked text.
- a secret is masked as written too, inside an escape's parameters where it shows nothing.
Text with none of these characters takes the plain path at the plain cost; lines are drawn
only where they hold an overwrite, each character once (linear time). Not seen through:
cursor movements by escapes, tabs, wide characters and the terminal's own line wrapping.
"""

from __future__ import annotations

import base64
import bisect
import json
import re
from collections.abc import Iterable, Iterator
from typing import NamedTuple
from urllib.parse import quote, quote_plus

MASK = "***"
MIN_SECRET_LENGTH = 4
_PERCENT_ESCAPE = re.compile(r"%[0-9A-F]{2}")
ESC = "\x1b"
CSI8 = "\x9b"  # the 8-bit CSI (C1 control): ``ESC [`` in one character
ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff\u00ad"
# Bounded, so that a sequence that never ends is not an escape (and a stream holds back at
# most this much while it waits for one to end).
_LONGEST_STRING = 4096
_ESCAPE = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]{0,64}[ -/]{0,16}[@-~]"  # CSI: colours, cursor moves, erase
    rf"|\x1b[\]PX^_][^\x07\x1b]{{0,{_LONGEST_STRING}}}(?:\x07|\x1b\\)"  # OSC, DCS...: up to BEL/ST
    r"|\x1b[ -/]{0,16}[0-~]"  # the rest: ESC ( B, ESC 7, ESC M...
    r"|[\x1b\x9b]"  # one that starts none of them: a terminal shows nothing for it either
    rf"|[{ZERO_WIDTH}]+"  # drawn as nothing
)
_ASCII_ESCAPE = re.compile(  # the same for ASCII text (most output), three times faster
    r"\x1b\[[0-?]{0,64}[ -/]{0,16}[@-~]"
    rf"|\x1b[\]PX^_][^\x07\x1b]{{0,{_LONGEST_STRING}}}(?:\x07|\x1b\\)"
    r"|\x1b[ -/]{0,16}[0-~]"
    r"|\x1b"
)
# The start of an escape that more text may complete (or turn into a longer one).
_UNFINISHED_ESCAPE = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]{0,64}[ -/]{0,16}"
    rf"|\x1b(?:[\]PX^_][^\x07\x1b]{{0,{_LONGEST_STRING}}}\x1b?"
    r"|[ -/]{0,16})?"
)
_LONGEST_UNFINISHED = _LONGEST_STRING + 3
_ESCAPE_START = re.compile(r"[\x1b\x9b]")
_INVISIBLE = re.compile(rf"[\x1b\x9b{ZERO_WIDTH}]")
_OVERWRITE = re.compile(r"[\r\x08]")  # carriage return, backspace
_SPECIAL = re.compile(rf"[\x1b\x9b{ZERO_WIDTH}\r\x08]")
_OVERWRITING = re.compile(r"\r(?!\n)|\x08")  # a CR ending a line (CRLF) overwrites nothing
_DRAWN_CHARACTER = re.compile(r"[^\r\x08\n]")  # what a starred mask replaces
# How far a live stream looks back into a line, and holds one back, for overwrites: a line
# longer than this may show a secret drawn over more than that (the batch masker sees it).
LINE_WINDOW = 4096


class Span(NamedTuple):
    """Where ``Masker.spans`` masks, and how."""

    start: int
    end: int
    final: bool  # more text cannot change it once it starts
    starred: bool  # in a line a CR or a backspace overwrites: one ``*`` a character

    def mask(self, text: str, start: int | None = None) -> str:
        """What ``text[start:self.end]`` becomes (``start`` defaults to the span's)."""
        if not self.starred:
            return MASK
        part = text[self.start if start is None else start : self.end]
        kept = [(m.start(), m.end()) for m in _escapes(part).finditer(part)]
        pieces: list[str] = []
        position = 0
        for begin, end in [*kept, (len(part), len(part))]:
            pieces += [_DRAWN_CHARACTER.sub("*", part[position:begin]), part[begin:end]]
            position = end
        return "".join(pieces)


def _escapes(text: str) -> re.Pattern[str]:
    return _ASCII_ESCAPE if text.isascii() else _ESCAPE


def _has_invisible(text: str) -> bool:
    """Whether ``text`` holds an escape or a zero-width character (ASCII text: only ESC)."""
    return ESC in text if text.isascii() else _INVISIBLE.search(text) is not None


def _has_overwrite(text: str) -> bool:
    return "\r" in text or "\x08" in text


def secret_forms(secret: str) -> set[str]:
    """The texts that give ``secret`` away: itself, its base64 and URL-encoded forms."""
    if not secret:
        return set()
    forms = {secret}
    data = secret.encode("utf-8", "surrogatepass")  # a lone surrogate is still a secret
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + data).decode("ascii")
        if offset == 0:
            forms.add(encoded)  # the whole secret encoded alone, padding included
        bare = encoded.rstrip("=")
        start = (0, 2, 3)[offset]  # characters that mix in the bits before the secret
        end = len(bare) - (1 if (offset + len(data)) % 3 else 0)  # ... and after it
        forms.add(bare[start:end])
    forms |= {f.replace("+", "-").replace("/", "_") for f in forms}
    for encoded in (quote(data, safe=""), quote(data), quote_plus(data, safe="")):
        forms |= {encoded, _PERCENT_ESCAPE.sub(lambda m: m.group(0).lower(), encoded)}
    forms |= {json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1]}
    return {f for f in forms if len(f) >= MIN_SECRET_LENGTH}


class Masker:
    """Replaces every form of the given secret values (see ``secret_forms``); longest first.

    Values shorter than ``MIN_SECRET_LENGTH`` are not masked: callers refuse them with an
    error that names them (see ``too_short``).
    """

    def __init__(self, secrets: Iterable[str]) -> None:
        forms: set[str] = set()
        for secret in secrets:
            if len(secret) >= MIN_SECRET_LENGTH:
                forms |= secret_forms(secret)
        self._compile(forms, as_shown=True)

    def _compile(self, forms: set[str], *, as_shown: bool) -> None:
        """Look for ``forms`` as a terminal shows them (``as_shown``), or as written only.

        A form holding an escape, a zero-width character, a CR or a backspace (a secret
        with one: hardly ever) is masked as written first, by a masker of its own; then
        looked for as shown, without its invisible characters.
        """
        written = {f for f in forms if _SPECIAL.search(f)} if as_shown else set()
        self._written: Masker | None = None
        if written:
            self._written = Masker(())
            self._written._compile(written, as_shown=False)
        # A form holding a CR or a backspace is itself drawn over: it is masked as written
        # only. No form looked for as shown holds one, so a span that ends before a line's
        # first overwrite never reaches past it (the streams rely on it).
        shown = {_ESCAPE.sub("", f) for f in written}
        forms = (forms - written) | {f for f in shown if not _OVERWRITE.search(f)}
        self._as_shown = as_shown
        self.forms = tuple(
            sorted((f for f in forms if len(f) >= MIN_SECRET_LENGTH), key=lambda f: (-len(f), f))
        )
        self.longest = len(self.forms[0]) if self.forms else 0
        self._pattern = (
            re.compile("|".join(re.escape(f) for f in self.forms)) if self.forms else None
        )

    def __call__(self, text: str) -> str:
        if self._written is not None:
            text = self._written(text)
        return self._mask_own(text)

    def _mask_own(self, text: str) -> str:
        """``text`` with this masker's own forms masked (not those of ``_written``)."""
        if self._pattern is None:
            return text
        if not self._as_shown or not (_has_invisible(text) or _has_overwrite(text)):
            return self._pattern.sub(MASK, text) if self.found_in(text) else text
        spans = self.spans(text)
        return _replace(text, spans) if spans else text

    def spans(self, text: str, shown: Shown | None = None) -> list[Span]:
        """The spans of ``text`` to mask, in order, none overlapping: each form found as
        shown (escapes and zero-width characters invisible: the span covers those inside
        it), as written (inside an escape's parameters, where it shows nothing yet is
        there), and in a line as a terminal draws it (``Drawn``: from the line's first
        overwrite on).

        Each says whether it is final once it starts (a form found as shown: more text
        cannot change it), unlike one that a form found as shown later may overlap (as
        written) or that the line's end decides (drawn); and whether it is in a line that
        a CR or a backspace overwrites, at or after the first: there each character is
        masked by one ``*``, the CRs and backspaces kept, so that the line is drawn as
        before but for the masked cells (``***`` would move the cursor, and what follows
        could draw a secret anew).
        """
        assert self._pattern is not None
        shown = Shown(text) if shown is None or shown.source != text else shown
        matches = self._matches(shown.text) if self.found_in(shown.text) else iter(())
        spans = [(shown.origin(s), shown.origin(e - 1) + 1, True) for s, e in matches]
        if self.found_in(text):
            written = [match.span() for match in self._pattern.finditer(text)]
            spans += [(s, e, False) for s, e in _apart(written, spans)]
        spans = _merged(spans)
        overwritten: list[tuple[int, int]] = []  # from each drawn line's first overwrite on
        drawn_spans: list[tuple[int, int, bool]] = []
        index = 0
        for start, end, first in drawn_lines(shown.text) if _has_overwrite(text) else ():
            # What the line showed before its first overwrite, masked, as a stream shows it
            line_start = shown.origin(start - 1) + 1 if start else 0
            overwrite = shown.origin(first)
            while index < len(spans) and spans[index][0] < line_start:
                index += 1
            before: list[str] = []
            position = line_start
            while index < len(spans) and spans[index][1] <= overwrite:
                before += [text[position : spans[index][0]], MASK]
                position = spans[index][1]
                index += 1
            before.append(text[position:overwrite])
            line = Drawn(shown.text, end, first, Shown("".join(before)).text)
            overwritten.append((overwrite, shown.origin(end - 1) + 1))
            if not self.found_in(line.text):
                continue
            for match in self._pattern.finditer(line.text):
                drawn = line.span(match.start(), match.end())
                if drawn is not None:
                    drawn_spans.append((shown.origin(drawn[0]), shown.origin(drawn[1]) + 1, False))
        index = 0
        result = []
        for start, end, final in _merged(spans + drawn_spans):
            while index < len(overwritten) and overwritten[index][1] <= start:
                index += 1
            starred = index < len(overwritten) and overwritten[index][0] <= start
            result.append(Span(start, end, final, starred))
        return result

    def _matches(self, text: str, before: int | None = None) -> Iterator[tuple[int, int]]:
        """Spans of the forms in ``text``, each starting before ``before``."""
        assert self._pattern is not None
        for match in self._pattern.finditer(text):
            if before is not None and match.start() >= before:
                return
            yield match.span()

    def found_in(self, text: str) -> bool:
        """Whether any form occurs in ``text``: substring search is many times faster than
        the regex, and most output holds no secret."""
        return any(form in text for form in self.forms)

    def safe_cut(self, text: str, index: int) -> int:
        """The first index at or after ``index`` where cutting ``text`` splits no secret form.

        Output is cut to its tail before it is masked; cut inside a secret, the kept part
        would begin with a fragment that no form matches, shown in clear. Only a window of
        the longest form around ``index`` is searched.
        """
        if self._written is not None:  # neither a form as written nor one as shown split
            while index != (moved := self._written.safe_cut(text, self._shown_cut(text, index))):
                index = moved
            return index
        return self._shown_cut(text, index)

    def _shown_cut(self, text: str, index: int) -> int:
        if ESC in text and self._as_shown:
            shown = Shown(text)
            at = shown.visible_index(index)
            cut = self._shown_cut(shown.text, at)  # the shown text holds no ESC
            return index if cut == at else shown.origin(cut)
        moved = True
        while moved and index < len(text):
            moved = False
            for form in self.forms:
                found = text.find(form, max(0, index - len(form) + 1), index + len(form) - 1)
                while 0 <= found < index:
                    if found + len(form) > index:  # straddles the cut: cut after it
                        index, moved = found + len(form), True
                        break
                    found = text.find(form, found + 1, index + len(form) - 1)
                if moved:
                    break
        return min(index, len(text))

    def mapping(self, values: dict[str, str], secret_names: Iterable[str]) -> dict[str, str]:
        """``values`` with secret names shown as ``***`` and other values masked."""
        hidden = set(secret_names)
        return {k: (MASK if k in hidden else self(v)) for k, v in values.items()}

    def stream(self) -> StreamMasker:
        """A masker for text that arrives in pieces (a step's live output)."""
        return StreamMasker(self)


def too_short(value: str) -> bool:
    """Whether a secret value is too short to mask without garbling other text."""
    return 0 < len(value) < MIN_SECRET_LENGTH


class StreamMasker:
    """Masks text given in chunks, so a secret split across two reads is still masked.

    It holds back only the end of the text that could be the start of a secret form (at
    most the longest form less one character, plus an escape sequence not finished yet), so
    output that cannot be a secret is shown at once; ``flush`` releases what is held when
    the stream ends. Fed in any pieces, it shows what ``Masker`` makes of the whole text
    (but for a line overwritten by a CR or a backspace over more than ``LINE_WINDOW``
    characters: that much of a line is held back at most).
    """

    def __init__(self, masker: Masker) -> None:
        self._masker = masker
        self._written = masker._written.stream() if masker._written is not None else None
        self._pattern = masker._pattern
        self._starts = {f[0] for f in masker.forms}
        self._pending = ""
        # What was shown of the line not ended yet (its last ``LINE_WINDOW`` characters),
        # masked: a CR or a backspace to come may draw a secret over it.
        self._line = ""

    def feed(self, chunk: str) -> str:
        """The masked text that is safe to show now."""
        if self._written is not None:
            chunk = self._written.feed(chunk)
        return self._feed(chunk)

    def _feed(self, chunk: str) -> str:
        if self._pattern is None:
            return chunk
        text = self._pending + chunk
        if not self._masker._as_shown:
            shown = self._feed_plain(text)
        elif _has_invisible(text) or _has_overwrite(text):
            shown = self._feed_shown(text)
        else:
            shown = self._feed_plain(text)
        self._shown_of_line(shown)
        return shown

    def _feed_plain(self, text: str) -> str:
        hold = self._hold_from(text)
        if not self._masker.found_in(text):
            self._pending = text[hold:]
            return text[:hold]
        shown: list[str] = []
        position = 0
        for match in self._pattern.finditer(text) if self._pattern is not None else ():
            if match.start() >= hold:
                break
            shown += [text[position : match.start()], MASK]
            position = match.end()
        cut = max(position, hold)
        shown.append(text[position:cut])
        self._pending = text[cut:]
        return "".join(shown)

    def _feed_shown(self, text: str) -> str:
        """``feed`` for text with escapes, zero-width characters, CRs or backspaces: the
        spans are ``Masker.spans``'; it is cut where ``Masker`` would not see it differently
        once more text comes: never inside an escape (nor before an unfinished one), before
        any tail that could grow into a form (as shown or as written), before a span that
        more text may change, and, in the line not ended yet, before its first CR or
        backspace (what follows may draw a secret over the line). The part of that line
        already shown is searched with the text (its spans were masked when it was shown)."""
        shown_before = len(self._line) if _has_overwrite(text) else 0
        whole = self._line[len(self._line) - shown_before :] + text
        complete = shown_before + _unfinished_escape_at(text)
        view = Shown(whole[:complete])

        def boundary(position: int) -> int:
            """``position``, or where the escapes it is among begin."""
            if position >= complete:
                return complete
            visible = view.visible_index(position)
            if visible < len(view.text) and view.origin(visible) == position:
                return position
            return max(shown_before, view.origin(visible - 1) + 1 if visible else 0)

        hold = self._hold_from(view.text)
        cut = max(shown_before, view.origin(hold) if hold < len(view.text) else complete)
        written = shown_before + self._hold_from(text)  # a form's start, maybe in an escape
        if written < cut:
            cut = boundary(written)
        line_start = whole.rfind("\n") + 1
        overwrite = _OVERWRITE.search(whole, max(line_start, shown_before))
        if overwrite is not None and len(whole) - overwrite.start() <= LINE_WINDOW:
            cut = min(cut, overwrite.start())
        spans = [span for span in self._masker.spans(whole, view) if span.end > shown_before]
        for span in reversed(spans):  # those before the line's shown part were masked then
            if max(span.start, shown_before) < cut < span.end and not span.final:
                cut = boundary(span.start)
        pieces: list[str] = []
        position = shown_before
        for span in spans:
            start = max(span.start, shown_before)
            if start >= cut:
                break
            pieces += [whole[position:start], span.mask(whole, start)]
            position = span.end
        cut = max(position, cut)
        pieces.append(whole[position:cut])
        self._pending = whole[cut:]
        return "".join(pieces)

    def _shown_of_line(self, shown: str) -> None:
        """Keep what was just shown of the line not ended yet (its last ``LINE_WINDOW``)."""
        newline = shown.rfind("\n")
        line = shown[newline + 1 :] if newline >= 0 else self._line + shown
        self._line = line[-LINE_WINDOW:]

    def flush(self) -> str:
        """What is still held back, masked: the stream has ended."""
        shown = self._feed(self._written.flush()) if self._written is not None else ""
        rest, self._pending = self._pending, ""
        if self._pattern is not None and self._masker._as_shown and _has_overwrite(rest):
            whole = self._line + rest  # as ``_feed_shown`` searches it
            before = len(self._line)
            pieces: list[str] = []
            position = before
            for span in self._masker.spans(whole):
                if span.end > before:
                    start = max(span.start, before)
                    pieces += [whole[position:start], span.mask(whole, start)]
                    position = span.end
            pieces.append(whole[position:])
            self._line = ""
            return shown + "".join(pieces)
        self._line = ""
        return shown + self._masker._mask_own(rest)

    def _hold_from(self, text: str) -> int:
        """The first index whose tail could still grow into a secret form."""
        for index in range(max(0, len(text) - self._masker.longest + 1), len(text)):
            if text[index] not in self._starts:
                continue
            tail = text[index:]
            if any(len(f) > len(tail) and f.startswith(tail) for f in self._masker.forms):
                return index
        return len(text)


class Shown:
    """``text`` as a terminal shows it (escapes removed), and the way back to ``text``.

    The way back is worked out only when asked: most text holds no secret, and removing
    the escapes is one C-speed substitution.
    """

    def __init__(self, text: str) -> None:
        self.source = text
        self.text = _escapes(text).sub("", text)
        self._starts: list[int] = []  # where each visible run starts in ``source`` ...
        self._shown_starts: list[int] = []  # ... and in ``text``

    def _map(self) -> None:
        if self._starts:
            return
        position = length = 0
        for escape in _escapes(self.source).finditer(self.source):
            if escape.start() > position:
                self._starts.append(position)
                self._shown_starts.append(length)
                length += escape.start() - position
            position = escape.end()
        self._starts.append(position)  # the last run (maybe empty): the end maps somewhere
        self._shown_starts.append(length)

    def origin(self, index: int) -> int:
        """Where shown character ``index`` is in the source text."""
        self._map()
        run = bisect.bisect_right(self._shown_starts, index) - 1
        return self._starts[run] + index - self._shown_starts[run]

    def visible_index(self, position: int) -> int:
        """How many shown characters come before ``position`` of the source text."""
        self._map()
        run = max(0, bisect.bisect_right(self._starts, position) - 1)
        following = self._shown_starts[run + 1] if run + 1 < len(self._starts) else len(self.text)
        inside = min(position - self._starts[run], following - self._shown_starts[run])
        return self._shown_starts[run] + max(0, inside)

    def replace(self, spans: Iterable[tuple[int, int]], mask: str) -> str:
        """The source with each shown span (escapes inside it too) replaced by ``mask``."""
        pieces: list[str] = []
        position = 0
        for start, end in spans:
            pieces += [self.source[position : self.origin(start)], mask]
            position = self.origin(end - 1) + 1
        pieces.append(self.source[position:])
        return "".join(pieces)


def _unfinished_escape_at(text: str) -> int:
    """Where an escape sequence that more text could finish (or lengthen) starts; else the
    end of ``text``. Only the last ``_LONGEST_UNFINISHED`` characters can hold one."""
    for start in _ESCAPE_START.finditer(text, max(0, len(text) - _LONGEST_UNFINISHED)):
        if _UNFINISHED_ESCAPE.fullmatch(text, start.start()):
            return start.start()
    return len(text)


class Drawn:
    """One line (no newline in it) holding a carriage return or a backspace, as a terminal
    draws it: each character written into the cell under the cursor, a carriage return
    taking the cursor to the first cell, a backspace one cell back.

    What the line shows before its first overwrite is ``before``: masked, as a terminal was
    given it (a live stream shows it before the overwrite arrives). ``text`` is what the
    line shows; ``origins[i]``, where in the source its cell ``i`` was last written (-1:
    in ``before``). Each character is written once (a slice assignment): linear time.
    """

    def __init__(self, source: str, end: int, first_overwrite: int, before: str) -> None:
        cells = list(before)
        self.origins = [-1] * len(before)
        self.end = end
        self.first_overwrite = first_overwrite
        column = len(before)
        position = first_overwrite
        for control in _OVERWRITE.finditer(source, first_overwrite, end):
            length = control.start() - position
            cells[column : column + length] = source[position : control.start()]
            self.origins[column : column + length] = range(position, control.start())
            column += length
            column = 0 if control.group() == "\r" else max(0, column - 1)
            position = control.end()
        cells[column : column + end - position] = source[position:end]
        self.origins[column : column + end - position] = range(position, end)
        self.text = "".join(cells)

    def span(self, start: int, end: int) -> tuple[int, int] | None:
        """First and last source index to mask for the shown cells ``start:end``; None for
        cells all shown before the line's first overwrite (searched as written).

        It is masked from that overwrite on: what came before it may be on a terminal
        already, and on its own it did not show the secret; the mask written from there on
        covers the secret's cells.
        """
        cells = self.origins[start:end]
        last = max(cells)
        if last < self.first_overwrite:
            return None
        return max(min(cells), self.first_overwrite), last


def drawn_lines(text: str) -> Iterator[tuple[int, int, int]]:
    """Where each line of ``text`` (escapes already removed) that a CR or a backspace
    overwrites starts, ends (before its newline), and is first overwritten."""
    position = 0
    while (overwrite := _OVERWRITING.search(text, position)) is not None:
        start = text.rfind("\n", position, overwrite.start()) + 1 or position
        end = text.find("\n", overwrite.end())
        end = len(text) if end < 0 else end
        yield start, end, overwrite.start()
        position = end + 1


def _merged(spans: list[tuple[int, int, bool]]) -> list[tuple[int, int, bool]]:
    """``spans`` in order, overlapping ones joined (touching ones stay apart: ``******``)."""
    merged: list[tuple[int, int, bool]] = []
    for start, end, final in sorted(spans):
        if merged and start < merged[-1][1]:
            last = merged[-1]
            merged[-1] = (last[0], max(end, last[1]), final and last[2])
        else:
            merged.append((start, end, final))
    return merged


def _apart(
    spans: list[tuple[int, int]], others: list[tuple[int, int, bool]]
) -> list[tuple[int, int]]:
    """The ``spans`` that overlap none of ``others`` (both in order, each without overlaps):
    a form found as written over a form found as shown is masked with it already."""
    kept = []
    index = 0
    for start, end in spans:
        while index < len(others) and others[index][1] <= start:
            index += 1
        if index == len(others) or others[index][0] >= end:
            kept.append((start, end))
    return kept


def _replace(text: str, spans: Iterable[Span]) -> str:
    pieces: list[str] = []
    position = 0
    for span in spans:
        pieces += [text[position : span.start], span.mask(text)]
        position = span.end
    pieces.append(text[position:])
    return "".join(pieces)
