from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, SelectChoice, SelectField, StringField
from wtforms.validators import InputRequired, Length

from helpdesk.core.emails import EmailAddress
from helpdesk.orgs.models import Role

ROLE_CHOICES = [SelectChoice(role.value, role.value.capitalize()) for role in
                (Role.AGENT, Role.MANAGER, Role.ADMIN, Role.OWNER)]


class InviteForm(FlaskForm):
    email = EmailField("Email", [InputRequired("Enter an email address."), Length(max=254),
                                 EmailAddress()])
    role = SelectField("Role", choices=ROLE_CHOICES, default=Role.AGENT.value)


class RoleForm(FlaskForm):
    role = SelectField("Role", choices=ROLE_CHOICES)


class TokenForm(FlaskForm):
    name = StringField("Token name", [InputRequired("Name the token, e.g. “Zapier”."),
                                      Length(max=100)])


class EmptyForm(FlaskForm):
    """Buttons that only need CSRF protection (remove, revoke, sign out)."""
