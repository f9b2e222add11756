"""Money for people: minor units (cents) shown in the org's currency."""

from __future__ import annotations

SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "CHF": "CHF ", "JPY": "¥"}
ZERO_DECIMAL = {"JPY", "KRW", "VND", "CLP", "ISK", "HUF"}  # no minor unit shown


def format_money(amount: int | None, currency: str = "EUR") -> str:
    """`1250, "EUR"` -> "€12.50"; an unknown currency code is written after the amount."""
    amount = int(amount or 0)
    currency = (currency or "EUR").upper()
    sign = "-" if amount < 0 else ""
    if currency in ZERO_DECIMAL:
        number = f"{abs(amount):,}"
    else:
        number = f"{abs(amount) // 100:,}.{abs(amount) % 100:02d}"
    symbol = SYMBOLS.get(currency)
    return f"{sign}{symbol}{number}" if symbol else f"{sign}{number} {currency}"
