"""The store of each tenant, under /<org_slug>/shop/. This issue: the empty blueprint."""

from flask import Flask

from helpdesk.core.web import org_blueprint

shop_bp = org_blueprint("shop", __name__, "shop")


def init_app(app: Flask) -> None:
    from storefront import views, views_cart  # noqa: F401

    app.register_blueprint(shop_bp)
