from flask import g, render_template

from storefront import shop_bp


@shop_bp.get("/")
def home():
    return render_template("storefront/home.html", org=g.org)
