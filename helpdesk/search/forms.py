"""Forms of the desk's search pages: saving a search as a view, the org's search language, and
the search arguments of a query string or a posted form."""

from __future__ import annotations

from collections.abc import Mapping

from flask_wtf import FlaskForm
from werkzeug.datastructures import MultiDict
from wtforms import BooleanField, SelectField, StringField
from wtforms.validators import InputRequired, Length

from helpdesk.search.services import VIEW_FILTERS

# The filters a results page, a saved view and its edit form carry, and how notes name them.
FILTER_LABELS = {"type": "type", "status": "status", "priority": "priority",
                 "assignee": "assignee", "tag": "tag", "customer": "customer",
                 "from": "from date", "to": "to date", "sort": "sort", "cursor": "page"}
SEARCH_ARGS = ("q", *VIEW_FILTERS, "cursor")
# Several values of these are one comma-separated filter (`status=new&status=open`).
LISTS = ("status", "priority")


def search_args(source: MultiDict, keys: tuple[str, ...] = SEARCH_ARGS) -> dict[str, str]:
    """The search arguments of a query string or form, as the search parameters take them.

    Unknown keys are left out (they would be reported as bad filters); NULs are dropped, as the
    search text itself drops them, so no filter value can fail in the database.
    """
    found = {}
    for key in keys:
        values = [value.replace("\x00", "").strip() for value in source.getlist(key)]
        values = [value for value in values if value]
        if values:
            found[key] = ",".join(values) if key in LISTS else values[0]
    return found


def filters_of(args: Mapping[str, str]) -> dict[str, str]:
    """The filters of a search, without its text and page: what a saved view keeps."""
    return {key: args[key] for key in VIEW_FILTERS if args.get(key)}


class SaveViewForm(FlaskForm):
    """Name a search; its text and filters come from the results page (or the edit page)."""

    name = StringField("Name", [InputRequired("Give the view a name."), Length(max=100)])
    q = StringField("Search for", [Length(max=2000)])
    shared = BooleanField("Shared with the team")


class SearchLanguageForm(FlaskForm):
    search_language = SelectField("Search language")

    def with_choices(self, languages: list[str]) -> SearchLanguageForm:
        self.search_language.choices = [(name, name.capitalize()) for name in languages]
        return self
