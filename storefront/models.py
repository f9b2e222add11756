"""The store: catalog, stock, carts, orders, payments, fulfillments and the order timeline.

Money is in minor units (cents) of the org's currency (Organization.settings["currency"],
default "EUR"). Stock changes only through conditional UPDATEs or row locks in
storefront.inventory; every change is a StockMovement row.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Enum,
    FetchedValue,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column

from helpdesk.core.models import Base, OrgScoped, TimestampMixin, string_enum, utcnow


def _enum(enum_class: type[enum.Enum], name: str) -> Enum:
    return string_enum(enum_class, name, 24)


class Category(OrgScoped, TimestampMixin, Base):
    __tablename__ = "shop_categories"
    __table_args__ = (UniqueConstraint("org_id", "id"), UniqueConstraint("org_id", "slug"))

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    slug: Mapped[str] = mapped_column(String(100))
    position: Mapped[int] = mapped_column(default=0, server_default="0")


class Product(OrgScoped, TimestampMixin, Base):
    __tablename__ = "shop_products"
    __table_args__ = (
        UniqueConstraint("org_id", "id"),
        UniqueConstraint("org_id", "slug"),
        ForeignKeyConstraint(["org_id", "category_id"], ["shop_categories.org_id",
                                                         "shop_categories.id"],
                             ondelete="SET NULL (category_id)"),
        CheckConstraint("price >= 0", name="price_not_negative"),
        Index("ix_shop_products_listing", "org_id", "is_active", "created_at", "id"),
        # The shop's other sort orders and the category filter (migration store_catalog).
        Index("ix_shop_products_price", "org_id", "is_active", "price_from", "id"),
        Index("ix_shop_products_name", "org_id", "is_active", "name", "id"),
        Index("ix_shop_products_category", "org_id", "category_id"),
        Index("ix_shop_products_search", "search_vector", postgresql_using="gin"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    category_id: Mapped[int | None]
    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    price: Mapped[int]  # minor units; a variant may override it
    tax_inclusive: Mapped[bool] = mapped_column(default=True, server_default="true")
    is_active: Mapped[bool] = mapped_column(default=True, server_default="true")
    # [{"key": "gift_text", "label": "Gift message", "type": "text" | "image" | "choice",
    #   "required": false, "max_length": 120, "choices": ["Red", "Blue"]}]
    personalization: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list,
                                                                  server_default="[]")
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), default=utcnow,
                                                 onupdate=utcnow)
    # Written by the database (triggers of migration store_catalog), never by the app: the
    # lowest price of the active variants (the listing's price sort and filter), and the words
    # of the name, SKUs, options and description in the org's search configuration.
    price_from: Mapped[int] = mapped_column(server_default="0", server_onupdate=FetchedValue())
    search_vector: Mapped[str | None] = mapped_column(TSVECTOR, deferred=True)


class ProductImage(OrgScoped, TimestampMixin, Base):
    """A picture of a product, stored like a ticket attachment (ATTACHMENTS_DIR, by hash)."""

    __tablename__ = "shop_product_images"
    __table_args__ = (
        ForeignKeyConstraint(["org_id", "product_id"], ["shop_products.org_id",
                                                        "shop_products.id"], ondelete="CASCADE"),
        Index("ix_shop_product_images_product", "org_id", "product_id", "position"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int]
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(127))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(255))
    alt: Mapped[str] = mapped_column(String(200), default="", server_default="")
    position: Mapped[int] = mapped_column(default=0, server_default="0")


class Variant(OrgScoped, TimestampMixin, Base):
    __tablename__ = "shop_variants"
    __table_args__ = (
        UniqueConstraint("org_id", "id"),
        UniqueConstraint("org_id", "sku"),
        ForeignKeyConstraint(["org_id", "product_id"], ["shop_products.org_id",
                                                        "shop_products.id"], ondelete="CASCADE"),
        CheckConstraint("price IS NULL OR price >= 0", name="price_not_negative"),
        Index("ix_shop_variants_product", "org_id", "product_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int]
    sku: Mapped[str] = mapped_column(String(64))
    options: Mapped[dict[str, str]] = mapped_column(JSONB, default=dict, server_default="{}")
    price: Mapped[int | None]  # None: the product's price
    weight_grams: Mapped[int | None]
    is_active: Mapped[bool] = mapped_column(default=True, server_default="true")
    position: Mapped[int] = mapped_column(default=0, server_default="0")


class StockLevel(OrgScoped, Base):
    """What a variant has: on hand, and the part of it held by open checkouts."""

    __tablename__ = "shop_stock_levels"
    __table_args__ = (
        UniqueConstraint("org_id", "variant_id"),
        ForeignKeyConstraint(["org_id", "variant_id"], ["shop_variants.org_id",
                                                        "shop_variants.id"], ondelete="CASCADE"),
        # The database itself refuses to oversell.
        CheckConstraint("on_hand >= 0", name="on_hand_not_negative"),
        CheckConstraint("reserved >= 0 AND reserved <= on_hand", name="reserved_within_stock"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    variant_id: Mapped[int]
    on_hand: Mapped[int] = mapped_column(default=0, server_default="0")
    reserved: Mapped[int] = mapped_column(default=0, server_default="0")
    low_stock_threshold: Mapped[int] = mapped_column(default=0, server_default="0")
    low_stock_alerted_at: Mapped[datetime | None]  # reset when stock rises above the threshold


class MovementKind(enum.StrEnum):
    SALE = "sale"
    REFUND = "refund"  # restocked by a refund or a cancellation
    ADJUSTMENT = "adjustment"
    RECEIPT = "receipt"


class StockMovement(OrgScoped, Base):
    __tablename__ = "shop_stock_movements"
    __table_args__ = (
        ForeignKeyConstraint(["org_id", "variant_id"], ["shop_variants.org_id",
                                                        "shop_variants.id"], ondelete="CASCADE"),
        Index("ix_shop_stock_movements_variant", "org_id", "variant_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    variant_id: Mapped[int]
    kind: Mapped[MovementKind] = mapped_column(_enum(MovementKind, "stock_movement_kind"))
    quantity: Mapped[int]  # + into stock, - out of it
    order_id: Mapped[int | None]
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    note: Mapped[str] = mapped_column(String(500), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(server_default=func.now(), default=utcnow)


class Reservation(OrgScoped, Base):
    """Units held for a checkout until it pays (committed) or its time runs out (released)."""

    __tablename__ = "shop_reservations"
    __table_args__ = (
        ForeignKeyConstraint(["org_id", "variant_id"], ["shop_variants.org_id",
                                                        "shop_variants.id"], ondelete="CASCADE"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        Index("ix_shop_reservations_checkout", "org_id", "checkout_key"),
        Index("ix_shop_reservations_expiry", "expires_at",
              postgresql_where=text("released_at IS NULL AND committed_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    variant_id: Mapped[int]
    checkout_key: Mapped[str] = mapped_column(String(64))  # the checkout's idempotency key
    order_id: Mapped[int | None]
    quantity: Mapped[int]
    expires_at: Mapped[datetime]
    released_at: Mapped[datetime | None]
    committed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now(), default=utcnow)


class Cart(OrgScoped, TimestampMixin, Base):
    """A guest's cart (by a random token in their session) or a signed-in customer's."""

    __tablename__ = "shop_carts"
    __table_args__ = (
        UniqueConstraint("org_id", "id"),
        UniqueConstraint("org_id", "token"),
        ForeignKeyConstraint(["org_id", "customer_id"], ["customers.org_id", "customers.id"],
                             ondelete="CASCADE"),
        Index("ix_shop_carts_customer", "org_id", "customer_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[int | None]
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), default=utcnow,
                                                 onupdate=utcnow)


class CartItem(OrgScoped, Base):
    __tablename__ = "shop_cart_items"
    __table_args__ = (
        ForeignKeyConstraint(["org_id", "cart_id"], ["shop_carts.org_id", "shop_carts.id"],
                             ondelete="CASCADE"),
        ForeignKeyConstraint(["org_id", "variant_id"], ["shop_variants.org_id",
                                                        "shop_variants.id"], ondelete="CASCADE"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        Index("ix_shop_cart_items_cart", "org_id", "cart_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    cart_id: Mapped[int]
    variant_id: Mapped[int]
    quantity: Mapped[int]
    personalization: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict,
                                                            server_default="{}")
    created_at: Mapped[datetime] = mapped_column(server_default=func.now(), default=utcnow)


class OrderStatus(enum.StrEnum):
    PLACED = "placed"
    CONFIRMED = "confirmed"
    CANCELLED = "cancelled"
    COMPLETED = "completed"


class PaymentStatus(enum.StrEnum):
    PENDING = "pending"
    AUTHORIZED = "authorized"
    PAID = "paid"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    FAILED = "failed"


class FulfillmentStatus(enum.StrEnum):
    UNFULFILLED = "unfulfilled"
    PACKED = "packed"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    RETURNED = "returned"


class PaymentMethod(enum.StrEnum):
    STRIPE = "stripe"
    CASH_ON_DELIVERY = "cash_on_delivery"


class Order(OrgScoped, TimestampMixin, Base):
    __tablename__ = "shop_orders"
    __table_args__ = (
        UniqueConstraint("org_id", "id"),
        UniqueConstraint("org_id", "number"),
        # A double click (or a retried request) with the same key finds the first order.
        UniqueConstraint("org_id", "idempotency_key"),
        ForeignKeyConstraint(["org_id", "customer_id"], ["customers.org_id", "customers.id"]),
        CheckConstraint("total >= 0", name="total_not_negative"),
        Index("ix_shop_orders_customer", "org_id", "customer_id", "created_at"),
        Index("ix_shop_orders_list", "org_id", "status", "created_at", "id"),
        Index("ix_shop_orders_intent", "stripe_payment_intent_id"),
        Index("ix_shop_orders_search", "search_vector", postgresql_using="gin"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[int]
    customer_id: Mapped[int]
    email: Mapped[str] = mapped_column(String(254))
    status: Mapped[OrderStatus] = mapped_column(_enum(OrderStatus, "order_status"),
                                                default=OrderStatus.PLACED)
    payment_status: Mapped[PaymentStatus] = mapped_column(_enum(PaymentStatus, "payment_status"),
                                                          default=PaymentStatus.PENDING)
    fulfillment_status: Mapped[FulfillmentStatus] = mapped_column(
        _enum(FulfillmentStatus, "fulfillment_status"), default=FulfillmentStatus.UNFULFILLED)
    payment_method: Mapped[PaymentMethod] = mapped_column(_enum(PaymentMethod, "payment_method"))
    currency: Mapped[str] = mapped_column(String(3))
    subtotal: Mapped[int]
    shipping: Mapped[int] = mapped_column(default=0, server_default="0")
    discount: Mapped[int] = mapped_column(default=0, server_default="0")
    total: Mapped[int]
    refunded: Mapped[int] = mapped_column(default=0, server_default="0")
    application_fee: Mapped[int] = mapped_column(default=0, server_default="0")
    coupon: Mapped[str | None] = mapped_column(String(64))
    delivery_option: Mapped[str] = mapped_column(String(32))
    # {"name", "line1", "line2", "postal_code", "city", "country", "phone"}
    shipping_address: Mapped[dict[str, str]] = mapped_column(JSONB, default=dict,
                                                             server_default="{}")
    idempotency_key: Mapped[str] = mapped_column(String(64))
    stripe_payment_intent_id: Mapped[str | None] = mapped_column(String(255))
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), default=utcnow,
                                                 onupdate=utcnow)
    # The desk's search (helpdesk.search): number, address and shipping name weighted A, the
    # lines' product names and SKUs B; written by triggers (migration store_order_search).
    search_vector: Mapped[str | None] = mapped_column(TSVECTOR, deferred=True)


class OrderLine(OrgScoped, Base):
    """What was bought, as it was then: name, SKU, options and price are copied."""

    __tablename__ = "shop_order_lines"
    __table_args__ = (
        UniqueConstraint("org_id", "id"),
        ForeignKeyConstraint(["org_id", "order_id"], ["shop_orders.org_id", "shop_orders.id"],
                             ondelete="CASCADE"),
        ForeignKeyConstraint(["org_id", "variant_id"], ["shop_variants.org_id",
                                                        "shop_variants.id"],
                             ondelete="SET NULL (variant_id)"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("refunded_quantity BETWEEN 0 AND quantity", name="refund_within_line"),
        Index("ix_shop_order_lines_order", "org_id", "order_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int]
    variant_id: Mapped[int | None]
    product_name: Mapped[str] = mapped_column(String(200))
    sku: Mapped[str] = mapped_column(String(64))
    options: Mapped[dict[str, str]] = mapped_column(JSONB, default=dict, server_default="{}")
    unit_price: Mapped[int]
    quantity: Mapped[int]
    refunded_quantity: Mapped[int] = mapped_column(default=0, server_default="0")
    # Validated against the product's personalization fields; images by storage key.
    personalization: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict,
                                                            server_default="{}")


class Payment(OrgScoped, TimestampMixin, Base):
    """A charge attempt or a refund at the payment provider."""

    __tablename__ = "shop_payments"
    __table_args__ = (
        ForeignKeyConstraint(["org_id", "order_id"], ["shop_orders.org_id", "shop_orders.id"],
                             ondelete="CASCADE"),
        Index("ix_shop_payments_order", "org_id", "order_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int]
    kind: Mapped[str] = mapped_column(String(16))  # charge | refund
    provider: Mapped[str] = mapped_column(String(32))  # stripe | cash_on_delivery
    provider_id: Mapped[str | None] = mapped_column(String(255))  # pi_... / re_...
    amount: Mapped[int]
    status: Mapped[str] = mapped_column(String(32))


class Fulfillment(OrgScoped, TimestampMixin, Base):
    __tablename__ = "shop_fulfillments"
    __table_args__ = (
        ForeignKeyConstraint(["org_id", "order_id"], ["shop_orders.org_id", "shop_orders.id"],
                             ondelete="CASCADE"),
        Index("ix_shop_fulfillments_order", "org_id", "order_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int]
    status: Mapped[FulfillmentStatus] = mapped_column(_enum(FulfillmentStatus,
                                                            "fulfillment_row_status"))
    carrier: Mapped[str] = mapped_column(String(64), default="", server_default="")
    tracking_number: Mapped[str] = mapped_column(String(128), default="", server_default="")
    shipped_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]


class OrderEvent(OrgScoped, Base):
    """The order's timeline (append-only), like TicketEvent."""

    __tablename__ = "shop_order_events"
    __table_args__ = (
        ForeignKeyConstraint(["org_id", "order_id"], ["shop_orders.org_id", "shop_orders.id"],
                             ondelete="CASCADE"),
        Index("ix_shop_order_events_order", "org_id", "order_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int]
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(32))
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now(), default=utcnow)


class OrderCounter(OrgScoped, Base):
    __tablename__ = "shop_order_counters"
    __table_args__ = (UniqueConstraint("org_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    last_number: Mapped[int] = mapped_column(default=0)


class StripeEvent(Base):
    """Webhook events already processed (Stripe may deliver one twice). Global, no tenant
    data: the event arrives before any org is known (its connected account names the org)."""

    __tablename__ = "stripe_events"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)  # evt_...
    account: Mapped[str | None] = mapped_column(String(255))  # acct_... of the connected shop
    type: Mapped[str] = mapped_column(String(100))
    processed_at: Mapped[datetime] = mapped_column(server_default=func.now(), default=utcnow)
