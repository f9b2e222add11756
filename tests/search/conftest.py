"""Search test helpers. Fixtures with distinctive names: several test modules share them."""

from __future__ import annotations

from tests.api.conftest import api_org, new_ticket  # noqa: F401  (API org and tickets)
from tests.tickets.conftest import make_ticket  # noqa: F401  (the ticket factory here too)
