"""Search test helpers. Fixtures with distinctive names: several test modules share them."""

from __future__ import annotations

from tests.api.conftest import api_org  # noqa: F401  (an org with an API token)
from tests.tickets.conftest import make_ticket  # noqa: F401  (the ticket factory here too)
