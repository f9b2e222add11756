"""Reply-address tokens: `support+t<ticket id>-<mac>@domain` names a ticket unforgeably.

The MAC is an HMAC-SHA256 of (org id, ticket id) with a key derived from SECRET_KEY, cut to 16
base32 characters (80 bits); lower-case only, because some servers fold the local part's case.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

from flask import current_app

TOKEN = re.compile(r"\+t(\d{1,18})-([a-z2-7]{16})@", re.IGNORECASE)


def _mac(org_id: int, ticket_id: int, purpose: bytes = b"reply-token:") -> str:
    key = hashlib.sha256(purpose + current_app.config["SECRET_KEY"].encode()).digest()
    digest = hmac.new(key, f"{org_id}:{ticket_id}".encode(), hashlib.sha256).digest()
    return base64.b32encode(digest).decode().lower()[:16]


def loop_value(org_id: int) -> str:
    """The X-Helpdesk-Loop value of this org's mail: only this value, seen coming back, is a
    loop (another tenant's or another installation's mail is ordinary mail)."""
    return f"{org_id}-{_mac(org_id, 0, b'loop:')}"


def reply_address(mailbox_address: str, org_id: int, ticket_id: int) -> str:
    local, _, domain = mailbox_address.partition("@")
    local = local.split("+", 1)[0]
    return f"{local}+t{ticket_id}-{_mac(org_id, ticket_id)}@{domain}"


def ticket_id_from(addresses: list[str], org_id: int) -> int | None:
    """The ticket id of the first address carrying a valid token for this org, else None."""
    for address in addresses:
        for match in TOKEN.finditer(address):
            ticket_id = int(match.group(1))
            if hmac.compare_digest(match.group(2).lower(), _mac(org_id, ticket_id)):
                return ticket_id
    return None
