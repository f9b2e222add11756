"""Plans as data. Limits of None mean unlimited; Enterprise limits come from org settings."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Plan:
    code: str
    name: str
    max_agents: int | None
    max_tickets_per_month: int | None
    features: frozenset[str] = field(default_factory=frozenset)
    # Platform fee on store orders, in basis points (used by the storefront).
    application_fee_bps: int = 0


PLANS: dict[str, Plan] = {
    plan.code: plan
    for plan in (
        Plan("starter", "Starter", 3, 500, frozenset(), application_fee_bps=200),
        Plan("growing", "Growing", 10, 2500, frozenset(), application_fee_bps=100),
        Plan(
            "professional",
            "Professional",
            25,
            None,
            frozenset({"sla", "api", "white_label"}),
            application_fee_bps=50,
        ),
        Plan(
            "enterprise",
            "Enterprise",
            None,
            None,
            frozenset({"sla", "api", "white_label"}),
            application_fee_bps=0,
        ),
    )
}
DEFAULT_PLAN = "starter"
PLAN_ORDER = list(PLANS)


def get_plan(code: str) -> Plan:
    return PLANS[code]


def next_plan_up(code: str) -> Plan | None:
    index = PLAN_ORDER.index(code)
    return PLANS[PLAN_ORDER[index + 1]] if index + 1 < len(PLAN_ORDER) else None
