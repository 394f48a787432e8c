"""Secret values replaced by ``***`` in everything ops writes, prints or posts.

Each secret is masked as written and in the encodings a step is likely to print it in:
base64 (standard and URL-safe alphabets, at each of the three alignments it can take inside
a longer base64 text, as in an HTTP Basic ``Authorization`` header), URL-encoded (``%XX``
in upper or lower case, ``+`` for spaces) and escaped inside a JSON string. Masking is a safety net, not a guarantee: a step
that transforms a secret any other way (hex, reversed, hashed, split over lines, compressed,
printed one character at a time between other text) can still print it. Secrets shorter than
``MIN_SECRET_LENGTH`` are refused upstream: masking one would garble ordinary words (a
secret ``x`` turns "exit code" into "e***it code").

Secrets are matched on the text as a terminal shows it: terminal escape sequences (CSI such
as colours, OSC such as titles and links, and the other ESC sequences) are invisible, so
``grep --color`` colouring part of a token must not hide it. A match covers the whole span,
escapes inside it included; text without an ESC takes the plain path at the plain cost.
Other ways a terminal hides text (a carriage return or backspaces overwriting it) are not
seen through.
"""

from __future__ import annotations

import base64
import bisect
import json
import re
from collections.abc import Iterable, Iterator
from urllib.parse import quote, quote_plus

MASK = "***"
MIN_SECRET_LENGTH = 4
_PERCENT_ESCAPE = re.compile(r"%[0-9A-F]{2}")
ESC = "\x1b"
# Bounded, so that a sequence that never ends is not an escape (and a stream holds back at
# most this much while it waits for one to end).
_LONGEST_STRING = 4096
_ESCAPE = re.compile(
    r"\x1b\[[0-?]{0,64}[ -/]{0,16}[@-~]"  # CSI: colours, cursor moves, erase
    rf"|\x1b[\]PX^_][^\x07\x1b]{{0,{_LONGEST_STRING}}}(?:\x07|\x1b\\)"  # OSC, DCS...: up to BEL/ST
    r"|\x1b[ -/]{0,16}[0-~]"  # the rest: ESC ( B, ESC 7, ESC M...
    r"|\x1b"  # an ESC that starts none of them: a terminal shows nothing for it either
)
# The start of an escape that more text may complete (or turn into a longer one).
_UNFINISHED_ESCAPE = re.compile(
    r"\x1b(?:\[[0-?]{0,64}[ -/]{0,16}"
    rf"|[\]PX^_][^\x07\x1b]{{0,{_LONGEST_STRING}}}\x1b?"
    r"|[ -/]{0,16})?"
)
_LONGEST_UNFINISHED = _LONGEST_STRING + 3


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

        A form holding an escape (a secret with one: hardly ever) is masked as written
        first, by a masker of its own; then looked for as shown, without its escapes.
        """
        written = {f for f in forms if ESC in f} if as_shown else set()
        self._written: Masker | None = None
        if written:
            self._written = Masker(())
            self._written._compile(written, as_shown=False)
        forms = (forms - written) | {_ESCAPE.sub("", f) for f in written}
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
        if ESC not in text or not self._as_shown:
            return self._pattern.sub(MASK, text) if self.found_in(text) else text
        shown = Shown(text)
        if not self.found_in(shown.text):
            return text
        return shown.replace(self._matches(shown.text), MASK)

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
    the stream ends. Fed in any pieces, it shows what ``Masker`` makes of the whole text.
    """

    def __init__(self, masker: Masker) -> None:
        self._masker = masker
        self._written = masker._written.stream() if masker._written is not None else None
        self._pattern = masker._pattern
        self._starts = {f[0] for f in masker.forms}
        self._pending = ""

    def feed(self, chunk: str) -> str:
        """The masked text that is safe to show now."""
        if self._written is not None:
            chunk = self._written.feed(chunk)
        return self._feed(chunk)

    def _feed(self, chunk: str) -> str:
        if self._pattern is None:
            return chunk
        text = self._pending + chunk
        if ESC in text and self._masker._as_shown:
            return self._feed_shown(text)
        hold = self._hold_from(text)
        if not self._masker.found_in(text):
            self._pending = text[hold:]
            return text[:hold]
        shown: list[str] = []
        position = 0
        for match in self._pattern.finditer(text):
            if match.start() >= hold:
                break
            shown += [text[position : match.start()], MASK]
            position = match.end()
        cut = max(position, hold)
        shown.append(text[position:cut])
        self._pending = text[cut:]
        return "".join(shown)

    def _feed_shown(self, text: str) -> str:
        """``feed`` for text with escapes: matched as shown, cut where ``Masker`` would not
        see it differently once more text comes (never inside an unfinished escape)."""
        complete = _unfinished_escape_at(text)
        shown = Shown(text[:complete])
        hold = self._hold_from(shown.text)
        cut = shown.origin(hold) if hold < len(shown.text) else complete
        pieces: list[str] = []
        position = 0
        found = self._masker.found_in(shown.text)
        for start, end in self._masker._matches(shown.text, hold) if found else ():
            pieces += [text[position : shown.origin(start)], MASK]
            position = shown.origin(end - 1) + 1
        cut = max(position, cut)
        pieces.append(text[position:cut])
        self._pending = text[cut:]
        return "".join(pieces)

    def flush(self) -> str:
        """What is still held back, masked: the stream has ended."""
        shown = self._feed(self._written.flush()) if self._written is not None else ""
        rest, self._pending = self._pending, ""
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
        self.text = _ESCAPE.sub("", text)
        self._starts: list[int] = []  # where each visible run starts in ``source`` ...
        self._shown_starts: list[int] = []  # ... and in ``text``

    def _map(self) -> None:
        if self._starts:
            return
        position = length = 0
        for escape in _ESCAPE.finditer(self.source):
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
    start = max(0, len(text) - _LONGEST_UNFINISHED)
    position = text.find(ESC, start)
    while position >= 0:
        if _UNFINISHED_ESCAPE.fullmatch(text, position):
            return position
        position = text.find(ESC, position + 1)
    return len(text)
