"""Stock as the catalog and its staff pages see it: counted in, corrected, read in bulk.

Every change goes through storefront.inventory.adjust (one conditional UPDATE and a
StockMovement); this module adds what staff type: a receipt or a correction by a delta, or
"there are now N on the shelf" (the row is locked while the delta is worked out, so a sale
committing meanwhile is not undone).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select

from helpdesk.core.exceptions import ValidationFailed
from helpdesk.extensions import db
from storefront import inventory
from storefront.models import MovementKind, StockLevel, StockMovement, Variant

MAX_STOCK = inventory.MAX_QUANTITY
STAFF_KINDS = (MovementKind.RECEIPT, MovementKind.ADJUSTMENT)
LOW_STOCK_SHOWN = 5  # the shop says "3 left" at or below this many


def _clean_note(note: object) -> str:
    if note is None:
        return ""
    if not isinstance(note, str) or "\x00" in note:
        raise ValidationFailed("The note must be text.", {"note": "Must be text."})
    note = note.strip()
    if len(note) > 500:
        raise ValidationFailed("The note is too long.", {"note": "At most 500 characters."})
    return note


def adjust_stock(actor_id: int | None, variant: Variant, delta: object,
                 kind: MovementKind | str = MovementKind.ADJUSTMENT, note: object = "") -> int:
    """Add units (a receipt) or correct the count by `delta`; the new on-hand count. Raises
    ValidationFailed (field `stock`) for a bad delta or one that takes stock below zero or
    below what open checkouts hold."""
    if isinstance(delta, bool) or not isinstance(delta, int) or delta == 0:
        raise ValidationFailed("Enter a whole number of units other than 0, e.g. 5 or -2.",
                               {"stock": "A whole number other than 0."})
    if abs(delta) > MAX_STOCK:
        raise ValidationFailed(f"At most {MAX_STOCK} units at once.",
                               {"stock": f"At most {MAX_STOCK} units at once."})
    try:
        kind = MovementKind(kind)
    except ValueError:
        kind = None
    if kind not in STAFF_KINDS:
        raise ValidationFailed("Choose a receipt or an adjustment.",
                               {"kind": "A receipt or an adjustment."})
    return inventory.adjust(variant.id, delta, kind, _clean_note(note), actor_id)


def set_stock(actor_id: int | None, variant: Variant, on_hand: object, note: object = "") -> int:
    """Make the on-hand count `on_hand` (a stock count); the movement records the difference.
    Raises ValidationFailed (field `stock`) below what open checkouts hold."""
    if isinstance(on_hand, bool) or not isinstance(on_hand, int) or not 0 <= on_hand <= MAX_STOCK:
        raise ValidationFailed(f"Stock is a whole number from 0 to {MAX_STOCK}.",
                               {"stock": f"A whole number from 0 to {MAX_STOCK}."})
    level = db.session.scalar(select(StockLevel).where(StockLevel.variant_id == variant.id)
                              .with_for_update().execution_options(populate_existing=True))
    current = level.on_hand if level is not None else 0
    if level is not None and on_hand < level.reserved:
        raise ValidationFailed(
            f"{level.reserved} units are held by open checkouts: set at least {level.reserved}.",
            {"stock": f"At least {level.reserved} (held by open checkouts)."})
    if on_hand == current:
        return current
    return inventory.adjust(variant.id, on_hand - current, MovementKind.ADJUSTMENT,
                            _clean_note(note) or "Stock count", actor_id)


def availability(variant_ids: Iterable[int]) -> dict[int, int]:
    """Units that can be sold now per variant (on hand minus held); 0 without a stock row."""
    ids = list(variant_ids)
    if not ids:
        return {}
    found = dict(db.session.execute(
        select(StockLevel.variant_id, StockLevel.on_hand - StockLevel.reserved)
        .where(StockLevel.variant_id.in_(ids))).all())
    return {variant_id: max(int(found.get(variant_id, 0)), 0) for variant_id in ids}


def availability_text(available: int) -> str:
    """What the shop says: "Out of stock", "3 left" or "In stock"."""
    if available <= 0:
        return "Out of stock"
    if available <= LOW_STOCK_SHOWN:
        return f"{available} left"
    return "In stock"


def movements(variant_ids: Iterable[int], limit: int = 50) -> list[StockMovement]:
    """The newest stock movements of these variants, newest first."""
    ids = list(variant_ids)
    if not ids:
        return []
    return list(db.session.scalars(
        select(StockMovement).where(StockMovement.variant_id.in_(ids))
        .order_by(StockMovement.created_at.desc(), StockMovement.id.desc()).limit(limit)))
