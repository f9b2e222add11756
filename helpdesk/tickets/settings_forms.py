"""Forms of the ticket domain's desk settings, and the labels their pages show."""

from __future__ import annotations

import re
from typing import Any

from flask_wtf import FlaskForm
from werkzeug.datastructures import MultiDict
from wtforms import (
    BooleanField,
    RadioField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, Optional

from helpdesk.tickets.admin import MAX_CANNED_BODY, MAX_SIGNATURE

EVENT_LABELS = {"created": "A ticket is created", "updated": "A ticket is updated",
                "customer_replied": "The customer replies",
                "sla_warning": "An SLA target is about to be breached",
                "sla_breached": "An SLA target is breached"}
FIELD_LABELS = {"subject": "Subject", "body": "Customer's last message",
                "customer_domain": "Customer's email domain", "tags": "Tags",
                "priority": "Priority", "channel": "Channel"}
OP_LABELS = {"contains": "contains", "not_contains": "does not contain", "equals": "is",
             "not_equals": "is not", "in": "is one of (comma-separated)"}
ACTION_LABELS = {"set_priority": "Set priority", "set_status": "Set status",
                 "add_tags": "Add tags", "remove_tags": "Remove tags", "assign": "Assign to",
                 "set_team": "Set team", "add_note": "Add internal note",
                 "send_canned": "Reply with canned response"}
TYPE_LABELS = {"text": "Text", "number": "Number", "dropdown": "Dropdown",
               "checkbox": "Checkbox", "date": "Date"}
MODE_LABELS = {
    "manual": ("Manual", "New tickets stay unassigned until someone takes or assigns them."),
    "round_robin": ("Round-robin", "New tickets go to each available agent in turn, so everyone "
                                   "gets the same number of new tickets."),
    "load_balanced": ("Load-balanced", "New tickets go to the available agent with the fewest "
                                       "open tickets (new, open or pending), so nobody piles up."),
}
LABELS = {"events": EVENT_LABELS, "fields": FIELD_LABELS, "ops": OP_LABELS,
          "actions": ACTION_LABELS, "types": TYPE_LABELS}
MAX_ROWS = 50
ROW_NAME = re.compile(r"^(conditions|actions)-(\d{1,3})-(field|op|type|value)$")


def _choices(labels: dict[str, str]) -> list[SelectChoice]:
    return [SelectChoice(value, label) for value, label in labels.items()]


class CannedForm(FlaskForm):
    title = StringField("Title", [DataRequired("Give it a title."), Length(max=200)])
    body = TextAreaField("Response", [DataRequired("Write the response."),
                                      Length(max=MAX_CANNED_BODY)])
    shared = BooleanField("Shared with the whole team (admins and owners only)")


class PreviewForm(FlaskForm):
    body = TextAreaField("Response", [Length(max=MAX_CANNED_BODY)])


class RuleForm(FlaskForm):
    name = StringField("Name", [DataRequired("Name the rule."), Length(max=200)])
    # The service (automation.validate_rule) is the judge of events: no choice check here.
    event = SelectField("When", choices=_choices(EVENT_LABELS), validate_choice=False)
    match = SelectField("Run when", choices=_choices({"all": "all conditions hold",
                                                       "any": "any condition holds"}))
    is_active = BooleanField("Active", default=True)


def parse_rows(formdata: MultiDict, group: str) -> list[dict[str, Any]]:
    """`conditions-3-field=...` style fields as a list of dicts in index order (gaps are fine:
    the row builder never renumbers). Rows left completely empty are dropped."""
    rows: dict[int, dict[str, str]] = {}
    for name, value in formdata.items():
        match = ROW_NAME.match(name)
        if match and match.group(1) == group:
            rows.setdefault(int(match.group(2)), {})[match.group(3)] = value.strip()
    keys = ("field", "op", "value") if group == "conditions" else ("type", "value")
    result = []
    for index in sorted(rows)[:MAX_ROWS]:
        row = {key: rows[index].get(key, "") for key in keys}
        if any(row[key] for key in keys if key != "op"):
            result.append(row)
    return result


class CustomFieldForm(FlaskForm):
    label = StringField("Label", [DataRequired("Give the field a label."), Length(max=100)])
    key = StringField("Key", [Optional(), Length(max=50)],
                      description="Lowercase letters, digits, - or _. Used by the API and "
                                  "stored on tickets, so it cannot change later. Leave empty "
                                  "to derive it from the label.")
    field_type = SelectField("Type", choices=_choices(TYPE_LABELS))
    options = TextAreaField("Options", [Length(max=10_000)],
                            description="Dropdown only: one option per line.")

    def option_lines(self) -> list[str]:
        return (self.options.data or "").splitlines()


class TeamForm(FlaskForm):
    name = StringField("Team name", [DataRequired("Name the team."), Length(max=100)])


class SignatureForm(FlaskForm):
    signature = TextAreaField("Your signature", [Length(max=MAX_SIGNATURE)],
                              description="Added under your replies in this organization, "
                                          "above the organization's signature.")


class DeskDefaultsForm(FlaskForm):
    assignment = RadioField("Assignment of new tickets", default="manual", choices=_choices(
        {mode: name for mode, (name, _) in MODE_LABELS.items()}))
    signature = TextAreaField("Organization signature", [Length(max=MAX_SIGNATURE)],
                              description="Added under every reply, below the agent's own.")
