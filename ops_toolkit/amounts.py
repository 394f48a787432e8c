"""Budget amounts as people write them: ``25%`` or the fraction ``0.25``, and nothing else.

One grammar for every amount of error budget (``ops slo gate --min-remaining``, a policy's
``gate:``, ``thresholds:`` and ``hysteresis:`` in ops.yaml), so ``0.4`` can never mean 0.4% in one place and
40% in another. A bare number above 1 is refused with the percentage it probably meant.
Pure; callers add the place (YAML path, option name) to the message.
"""

from __future__ import annotations

GRAMMAR = "N% or a fraction from 0 to 1"


def parse_budget_amount(value: object) -> float:
    """The fraction of the budget ``value`` names (``'25%'`` and ``0.25`` are both 0.25).

    Raises ValueError with the reason, and a did-you-mean for a bare number above 1.
    """
    if isinstance(value, bool):
        raise ValueError(f"expected {GRAMMAR}, got {value!r}")
    if isinstance(value, str):
        text = value.strip()
        if text.endswith("%"):
            try:
                percent = float(text[:-1])
            except ValueError:
                raise ValueError(f"expected {GRAMMAR}, got {value!r}") from None
            if not 0 <= percent <= 100:
                raise ValueError(f"expected {GRAMMAR}, got {value!r} (a percentage is 0% to 100%)")
            return percent / 100
        try:
            number = float(text)
        except ValueError:
            raise ValueError(f"expected {GRAMMAR}, got {value!r}") from None
    elif isinstance(value, int | float):
        number = float(value)
    else:
        raise ValueError(f"expected {GRAMMAR}, got {value!r}")
    if number != number or number < 0:  # NaN or negative
        raise ValueError(f"expected {GRAMMAR}, got {value!r}")
    if number > 1:
        hint = f" (did you mean {number:g}%?)" if number <= 100 else ""
        raise ValueError(f"expected {GRAMMAR}, got {value!r}{hint}")
    return number
