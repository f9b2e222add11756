"""CSV exports: the rows of a report's main table, exactly as the desk page shows them."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

from helpdesk.sla.models import TARGET_LABELS

# A spreadsheet runs a cell that starts with one of these as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def table(report: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    """(header, rows) of the report's main table."""
    name = report["report"]
    if name == "volume":
        return (["period", "created", "solved", "reopened", "backlog"],
                [[b["period"], b["created"], b["solved"], b["reopened"], b["backlog"]]
                 for b in report["series"]])
    if name == "first-response":
        return (["period", "first_reply_count", "first_reply_median_minutes",
                 "next_reply_count", "next_reply_median_minutes"],
                [[b["period"], b["first_reply_count"], b["first_reply_median_minutes"],
                  b["next_reply_count"], b["next_reply_median_minutes"]]
                 for b in report["series"]])
    if name == "resolution":
        return (["period", "solved", "median_minutes"],
                [[b["period"], b["count"], b["median_minutes"]] for b in report["series"]])
    if name == "sla":
        groups = [("All policies", report["targets"])]
        groups += [(policy["name"], policy["targets"]) for policy in report["policies"]]
        return (["policy", "target", "achieved", "breached", "achieved_rate"],
                [[policy, TARGET_LABELS[t["target"]], t["achieved"], t["breached"],
                  t["achieved_rate"]] for policy, targets in groups for t in targets])
    if name == "agents":
        return (["agent_id", "name", "tickets_solved", "replies", "first_reply_median_minutes",
                 "resolution_median_minutes", "open_load"],
                [[a["agent_id"], a["name"], a["tickets_solved"], a["replies"],
                  a["first_reply_median_minutes"], a["resolution_median_minutes"],
                  a["open_load"]] for a in report["agents"]])
    return ["available", "message"], [[report["available"], report["message"]]]


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def to_csv(header: list[str], rows: Iterable[list[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows([_cell(value) for value in row] for row in rows)
    return buffer.getvalue()
