"""SLA settings pages: calendars and policies (Settings → SLA)."""

from helpdesk.sla import bp  # noqa: F401
