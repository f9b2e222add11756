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


def org_currency(org) -> str:
    """The org's currency code (Organization.settings["currency"], default EUR)."""
    return str((org.settings or {}).get("currency") or "EUR").upper()


def to_major(amount: int | None, currency: str = "EUR") -> str:
    """Minor units as a plain number for a form field: `1250` -> "12.50" (JPY: "1250")."""
    amount = int(amount or 0)
    if currency.upper() in ZERO_DECIMAL:
        return str(amount)
    sign = "-" if amount < 0 else ""
    return f"{sign}{abs(amount) // 100}.{abs(amount) % 100:02d}"


def parse_money(text: str, currency: str = "EUR") -> int:
    """What a person typed ("12.50", "12,50", "€12", "1,250.00") in minor units. Raises
    ValueError saying what is wrong."""
    cleaned = (text or "").strip().replace(SYMBOLS.get(currency.upper(), "\0").strip(), "")
    cleaned = cleaned.replace(currency.upper(), "").replace(" ", "").replace("\u00a0", "")
    if cleaned.count(",") == 1 and "." not in cleaned and len(cleaned.split(",")[1]) <= 2:
        cleaned = cleaned.replace(",", ".")  # a decimal comma
    cleaned = cleaned.replace(",", "")
    digits = 0 if currency.upper() in ZERO_DECIMAL else 2
    whole, _, fraction = cleaned.partition(".")
    if (not whole.isdigit() and whole != "") or (fraction and not fraction.isdigit()) \
            or (not whole and not fraction) or len(fraction) > digits or len(whole) > 15:
        example = "1250" if digits == 0 else "12.50"
        raise ValueError(f"Enter an amount like {example}.")
    return int(whole or 0) * 10**digits + int((fraction or "0").ljust(digits, "0") or 0)
