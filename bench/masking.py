"""Masking a step's output stream: every form of 5 secrets, against literal-only masking.

Streams 32 MiB of log-like text in 64 KiB reads (as a step's pipe gives it) through the
stream masker (each secret as written, base64 at three alignments, URL-encoded, JSON-escaped,
held back across reads) and, as the baseline, through one regex of the 5 literal values
per read (what ops did before encodings and chunk boundaries were handled). Then the same
with a colour escape on every line (``grep --color``, coloured log levels): masking matches
secrets on the text as a terminal shows it, escapes ignored, which costs more only there.
"""

from __future__ import annotations

import re
import time

from ops_toolkit.masking import Masker

SECRETS = [f"s3cr3t-{n}-Kq9vX2pLm7Zt" for n in range(5)]
CHUNK = 64 * 1024
TOTAL = 32 * 1024 * 1024


PLAIN = "2026-11-29T12:00:00Z INFO request served path=/search?q=documents status=200 ms=12\n"
COLOURED = (
    "2026-11-29T12:00:00Z \x1b[32mINFO\x1b[0m request served path=/search?q=documents "
    "status=200 ms=12\n"
)


def main() -> None:
    for name, line in (("plain", PLAIN), ("coloured", COLOURED)):
        measure(name, line)


def measure(name: str, line: str) -> None:
    text = (line * (TOTAL // len(line) + 1))[:TOTAL]
    chunks = [text[i : i + CHUNK] for i in range(0, len(text), CHUNK)]
    literal = re.compile("|".join(re.escape(s) for s in SECRETS))
    start = time.perf_counter()
    for chunk in chunks:
        literal.sub("***", chunk)
    baseline = time.perf_counter() - start
    masker = Masker(SECRETS)
    start = time.perf_counter()
    stream = masker.stream()
    for chunk in chunks:
        stream.feed(chunk)
    stream.flush()
    elapsed = time.perf_counter() - start
    mib = TOTAL / 1024 / 1024
    print(
        f"masking {name}: {mib:.0f} MiB with {len(masker.forms)} secret forms {elapsed:.2f}s "
        f"({mib / elapsed:.0f} MiB/s); literal-only baseline {baseline:.2f}s "
        f"({mib / baseline:.0f} MiB/s); ratio {elapsed / baseline:.2f}x"
    )


if __name__ == "__main__":
    main()
