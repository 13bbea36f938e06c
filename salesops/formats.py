"""Number formatting for people: money in the workspace currency, percentages, days."""
from __future__ import annotations

import math

MISSING = "–"
CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "CHF": "CHF ", "CAD": "C$", "AUD": "A$", "INR": "₹"}


def _missing(x) -> bool:
    try:
        return x is None or math.isnan(float(x))
    except (TypeError, ValueError):
        return True


def currency_symbol(currency: str) -> str:
    return CURRENCY_SYMBOLS.get(str(currency).upper(), f"{currency} ")


def money(x, currency: str = "USD", compact: bool = True) -> str:
    """``$1.2M``, ``$350K``, ``$980`` (compact) or ``$1,234,567`` (full); "–" for missing."""
    if _missing(x):
        return MISSING
    x = float(x)
    sign = "-" if x < 0 else ""
    a = abs(x)
    sym = currency_symbol(currency)
    if not compact:
        return f"{sign}{sym}{a:,.0f}"
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if a >= limit:
            v = a / limit
            text = f"{v:.1f}" if v < 100 else f"{v:.0f}"
            return f"{sign}{sym}{text.rstrip('0').rstrip('.') if '.' in text else text}{suffix}"
    return f"{sign}{sym}{a:,.0f}"


def pct(x, digits: int = 0) -> str:
    """``31%`` from 0.31; "–" for missing."""
    if _missing(x):
        return MISSING
    return f"{float(x) * 100:.{digits}f}%"


def days(x) -> str:
    if _missing(x):
        return MISSING
    n = float(x)
    return f"{n:.0f} day" if round(abs(n)) == 1 else f"{n:.0f} days"


def number(x, digits: int = 0) -> str:
    if _missing(x):
        return MISSING
    return f"{float(x):,.{digits}f}"


def ratio(x) -> str:
    """``2.4x`` for coverage-style ratios."""
    if _missing(x):
        return MISSING
    return f"{float(x):.1f}x"


def date_text(x) -> str:
    """``20 Nov 2026`` from a date or timestamp; "–" for missing."""
    import pandas as pd

    try:
        t = pd.Timestamp(x)
    except (TypeError, ValueError):
        return MISSING
    return MISSING if pd.isna(t) else f"{t:%d %b %Y}"
