"""The shop's checkout form. The service checks everything again (and names bad fields); the
form's own validators give the first, quick messages."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, RadioField, StringField
from wtforms.validators import InputRequired, Length, Optional

from helpdesk.core.emails import EmailAddress
from storefront.order_input import ADDRESS_FIELDS

ADDRESS_KEYS = ("line1", "line2", "postal_code", "city", "country", "phone")
# The service's field names (shipping.city) -> this form's fields (city).
SERVICE_FIELDS = {f"shipping.{key}": key for key in ADDRESS_KEYS} | {
    "shipping.name": "name", "payment": "payment", "delivery_option": "delivery_option"}


class CheckoutForm(FlaskForm):
    email = EmailField("Email", [InputRequired("Enter your email address."), Length(max=254),
                                 EmailAddress()],
                       description="For the order confirmation.")
    name = StringField("Full name", [InputRequired("Enter your name."), Length(max=200)])
    line1 = StringField("Address", [Optional(), Length(max=ADDRESS_FIELDS["line1"])])
    line2 = StringField("Address line 2 (optional)", [Optional(),
                                                      Length(max=ADDRESS_FIELDS["line2"])])
    postal_code = StringField("Postal code", [Optional(),
                                              Length(max=ADDRESS_FIELDS["postal_code"])])
    city = StringField("City", [Optional(), Length(max=ADDRESS_FIELDS["city"])])
    country = StringField("Country", [Optional(), Length(max=ADDRESS_FIELDS["country"])])
    phone = StringField("Phone (optional)", [Optional(), Length(max=ADDRESS_FIELDS["phone"])],
                        description="In case the courier needs to reach you.")
    delivery_option = RadioField("Delivery", validate_choice=False)
    payment = RadioField("Payment", validate_choice=False)
    idempotency_key = HiddenField()
    expected_subtotal = HiddenField()

    def address(self) -> dict[str, str]:
        return {"name": self.name.data or ""} | {key: self[key].data or ""
                                                for key in ADDRESS_KEYS}
