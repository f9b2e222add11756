"""The store of each tenant, under /<org_slug>/shop/. This issue: the empty blueprint."""

from flask import Flask

from helpdesk.core.web import org_blueprint

shop_bp = org_blueprint("shop", __name__, "shop")


def init_app(app: Flask) -> None:
    from storefront import views, views_cart, views_order_help  # noqa: F401

    app.register_blueprint(shop_bp)
    _init_catalog(app)
    _init_payments(app)
    _init_orders(app)


def _init_payments(app: Flask) -> None:
    """Stripe: the webhook (global, CSRF-exempt: Stripe signs it) and the Connect settings."""
    from helpdesk.extensions import csrf
    from storefront import stripe_settings, webhooks

    csrf.exempt(webhooks.bp)
    app.register_blueprint(webhooks.bp)
    app.register_blueprint(stripe_settings.bp)


def _init_catalog(app: Flask) -> None:
    """The desk's store pages, and picture files removed once their rows' deletion commits."""
    from helpdesk.extensions import db
    from storefront import product_images, staff_views

    app.register_blueprint(staff_views.bp)
    product_images.install(db.session.session_factory.class_)


def _init_orders(app: Flask) -> None:
    """The desk's order pages, and the ticket page's orders sidebar (a template global)."""
    from storefront import staff_orders, ticket_links

    app.register_blueprint(staff_orders.bp)
    app.add_template_global(ticket_links.ticket_sidebar, "store_ticket_orders")
    app.add_template_global(ticket_links.help_url, "store_order_help_url")
