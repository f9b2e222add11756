"""Desk forms for tickets. Choices that depend on the org (members, teams) are filled by
`with_choices`; the services validate the values again (a form is a convenience, not a wall)."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import (
    IntegerField,
    MultipleFileField,
    RadioField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import InputRequired, Length, NumberRange, Optional, ValidationError

from helpdesk.tickets.models import CustomField, CustomFieldType, Priority, Status

C = SelectChoice


def status_choices(statuses=tuple(Status)) -> list[SelectChoice]:
    return [C(s.value, s.value.capitalize()) for s in statuses]


PRIORITY_CHOICES = [C(p.value, p.value.capitalize()) for p in Priority]
AFTER_STATUS_CHOICES = [C("", "Keep status"), C("pending", "Set to pending"),
                        C("solved", "Set to solved")]
BULK_ACTIONS = [C("assign", "Assign to"), C("status", "Set status"), C("tag", "Add tag"),
                C("merge", "Merge checked")]
KIND_CHOICES = [C("reply", "Reply to customer"), C("note", "Internal note")]


def assignee_choices(members: list[tuple[int, str]], me: int | None) -> list[SelectChoice]:
    return [C("none", "Unassigned"),
            *(C(str(uid), f"{name} (you)" if uid == me else name) for uid, name in members)]


def team_choices(teams: list[tuple[int, str]]) -> list[SelectChoice]:
    return [C("none", "No team"), *(C(str(tid), name) for tid, name in teams)]


def id_or_none(value: str | None) -> int | None:
    """'none' or '' → None, digits → int. The form's choices already refused anything else."""
    return int(value) if value and value.isdigit() else None


class ComposerForm(FlaskForm):
    kind = RadioField("Message type", choices=KIND_CHOICES, default="reply")
    body = TextAreaField("Message", [Length(max=200_000)])
    attachments = MultipleFileField("Attach files")
    then_status = SelectField("And then", choices=AFTER_STATUS_CHOICES, default="")

    def uploads(self) -> list[tuple[str, Any, str | None]]:
        """(filename, stream, content type) for each file actually chosen."""
        return [(f.filename, f.stream, f.mimetype or None) for f in (self.attachments.data or [])
                if getattr(f, "filename", "")]


class UpdateForm(FlaskForm):
    # Optional: a form may carry only some of them (the Solve button sends a lone status).
    status = SelectField("Status", [Optional()], choices=status_choices())
    priority = SelectField("Priority", [Optional()], choices=PRIORITY_CHOICES)
    assignee = SelectField("Assignee", [Optional()], choices=[])
    team = SelectField("Team", [Optional()], choices=[])
    tags = StringField("Tags", [Optional(), Length(max=1100)],
                       description="Separate tags with commas.")
    is_spam = SelectField("Spam", [Optional()], choices=[C("0", "Not spam"), C("1", "Spam")])

    def with_choices(self, members, teams, me: int | None = None) -> UpdateForm:
        self.assignee.choices = assignee_choices(members, me)
        self.team.choices = team_choices(teams)
        return self

    def tag_list(self) -> list[str]:
        return [t for t in (self.tags.data or "").split(",") if t.strip()]


def custom_field_values(definitions: list[CustomField], formdata) -> dict[str, Any]:
    """Values of the custom field inputs (`cf_<key>`); an unticked checkbox sends nothing,
    which means False when the form carried the field at all (`cf_present`)."""
    present = set(formdata.getlist("cf_present"))
    values: dict[str, Any] = {}
    for definition in definitions:
        if definition.key not in present:
            continue
        raw = formdata.get(f"cf_{definition.key}")
        if definition.field_type is CustomFieldType.CHECKBOX:
            values[definition.key] = raw is not None
        else:
            values[definition.key] = (raw or "").strip()
    return values


class MergeForm(FlaskForm):
    target = IntegerField("Merge into ticket #", [InputRequired("Enter a ticket number."),
                                                   NumberRange(min=1, max=2**62)])


class BulkForm(FlaskForm):
    tickets = SelectMultipleField("Tickets", coerce=int, validate_choice=False)
    action = SelectField("Action", choices=BULK_ACTIONS)
    assignee = SelectField("Assign to", choices=[], validators=[Optional()])
    status = SelectField("Status", choices=status_choices(), validators=[Optional()])
    tag = StringField("Tag", [Length(max=50)])
    merge_target = IntegerField("Merge into #", [Optional(), NumberRange(min=1, max=2**62)],
                                description="Empty: the first selected ticket.")

    def with_choices(self, members, me: int | None = None) -> BulkForm:
        self.assignee.choices = assignee_choices(members, me)
        return self

    def validate_tickets(self, field) -> None:
        if not field.data:
            raise ValidationError("Select at least one ticket.")
        if len(field.data) > 100:
            raise ValidationError("At most 100 tickets at a time.")
        if any(n <= 0 or n >= 2**62 for n in field.data):
            raise ValidationError("Not a ticket number.")
