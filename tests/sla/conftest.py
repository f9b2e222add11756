"""Fixtures for the SLA tests."""

from contextlib import contextmanager

import pytest
import time_machine


@pytest.fixture
def pro(make_org):
    """An org on the Professional plan: policies by priority apply."""
    return make_org(plan="professional")


@pytest.fixture
def at(in_org):
    """`with at(moment, org[, user_id]) as session:` a unit of work at a frozen time."""

    @contextmanager
    def _at(moment, org, user_id=None):
        with time_machine.travel(moment, tick=False), in_org(org.id, user_id) as session:
            yield session

    return _at
