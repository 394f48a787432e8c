"""Secret values replaced by ``***`` in everything ops writes, prints or posts.

Each secret is masked as written and in the encodings a step is likely to print it in:
base64 (standard and URL-safe alphabets, at each of the three alignments it can take inside
a longer base64 text, as in an HTTP Basic ``Authorization`` header), URL-encoded (``%XX``
in upper or lower case, ``+`` for spaces) and escaped inside a JSON string. Masking is a safety net, not a guarantee: a step
that transforms a secret any other way (hex, reversed, hashed, split over lines, compressed,
printed one character at a time between other text) can still print it. Secrets shorter than
``MIN_SECRET_LENGTH`` are refused upstream: masking one would garble ordinary words (a
secret ``x`` turns "exit code" into "e***it code").
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

MASK = "***"
MIN_SECRET_LENGTH = 4
_PERCENT_ESCAPE = re.compile(r"%[0-9A-F]{2}")


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
        self.forms = tuple(sorted(forms, key=lambda f: (-len(f), f)))
        self.longest = len(self.forms[0]) if self.forms else 0
        self._pattern = (
            re.compile("|".join(re.escape(f) for f in self.forms)) if self.forms else None
        )

    def __call__(self, text: str) -> str:
        if self._pattern is None or not self.found_in(text):
            return text
        return self._pattern.sub(MASK, text)

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
    most the longest form less one character), so output that cannot be a secret is shown
    at once; ``flush`` releases what is held when the stream ends.
    """

    def __init__(self, masker: Masker) -> None:
        self._masker = masker
        self._pattern = masker._pattern
        self._starts = {f[0] for f in masker.forms}
        self._pending = ""

    def feed(self, chunk: str) -> str:
        """The masked text that is safe to show now."""
        if self._pattern is None:
            return chunk
        text = self._pending + chunk
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

    def flush(self) -> str:
        """What is still held back, masked: the stream has ended."""
        rest, self._pending = self._pending, ""
        return self._masker(rest)

    def _hold_from(self, text: str) -> int:
        """The first index whose tail could still grow into a secret form."""
        for index in range(max(0, len(text) - self._masker.longest + 1), len(text)):
            if text[index] not in self._starts:
                continue
            tail = text[index:]
            if any(len(f) > len(tail) and f.startswith(tail) for f in self._masker.forms):
                return index
        return len(text)
