"""Delivery options from the org's settings, with defaults when unset.

Organization.settings["shop_delivery"] may hold (all optional; money in minor units):
    {"flat_rate": 490, "free_over": 5000, "pickup": true, "pickup_address": "Main St 1",
     "dispatch_days": 1, "transit_days": [2, 4]}
`free_over` null (or 0) means shipping is never free. Estimated dates count business days
(Monday to Friday) from the order day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from helpdesk.core.exceptions import ValidationFailed
from helpdesk.core.models import utcnow
from helpdesk.orgs.models import Organization

STANDARD, PICKUP = "standard", "pickup"
DEFAULTS: dict[str, Any] = {"flat_rate": 490, "free_over": 5000, "pickup": False,
                            "pickup_address": "", "dispatch_days": 1, "transit_days": [2, 4]}


@dataclass(frozen=True)
class DeliveryOption:
    code: str
    label: str
    price: int
    needs_address: bool
    earliest: date
    latest: date
    note: str = ""


def settings_of(org: Organization) -> dict[str, Any]:
    """The org's delivery settings over the defaults; malformed values fall back to them."""
    given = (org.settings or {}).get("shop_delivery") or {}
    merged = dict(DEFAULTS)
    for key, default in DEFAULTS.items():
        value = given.get(key, default) if isinstance(given, dict) else default
        if key == "transit_days":
            ok = (isinstance(value, list) and len(value) == 2
                  and all(isinstance(v, int) and 0 <= v <= 60 for v in value)
                  and value[0] <= value[1])
        elif key == "free_over":
            ok = value is None or (isinstance(value, int) and value >= 0)
        elif key == "pickup":
            ok = isinstance(value, bool)
        elif key == "pickup_address":
            ok = isinstance(value, str)
        else:
            ok = isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 10**9
        merged[key] = value if ok else default
    return merged


def add_business_days(start: date, days: int) -> date:
    current = start
    while days > 0:
        current += timedelta(days=1)
        if current.weekday() < 5:
            days -= 1
    return current


def options(org: Organization, subtotal: int, today: date | None = None) -> list[DeliveryOption]:
    """What the customer can choose for a cart worth `subtotal`, cheapest rule applied."""
    config = settings_of(org)
    today = today or utcnow().date()
    dispatched = add_business_days(today, config["dispatch_days"])
    low, high = config["transit_days"]
    free_over = config["free_over"]
    free = bool(free_over) and subtotal >= free_over
    found = [DeliveryOption(
        STANDARD, "Standard delivery", 0 if free else config["flat_rate"], True,
        add_business_days(dispatched, low), add_business_days(dispatched, high),
        "Free over this order's amount" if free else "")]
    if config["pickup"]:
        found.append(DeliveryOption(PICKUP, "Local pickup", 0, False, dispatched, dispatched,
                                    config["pickup_address"]))
    return found


def choose(org: Organization, code: str | None, subtotal: int,
           today: date | None = None) -> DeliveryOption:
    """The option `code` (None: the first one). Raises ValidationFailed for one the shop does
    not offer."""
    offered = options(org, subtotal, today)
    if not code:
        return offered[0]
    for option in offered:
        if option.code == code:
            return option
    names = ", ".join(o.code for o in offered)
    raise ValidationFailed(f"Unknown delivery option “{str(code)[:40]}”. Choose one of: {names}.",
                           {"delivery_option": f"one of: {names}"})
