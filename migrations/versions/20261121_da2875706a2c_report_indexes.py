"""reports: open tickets by creation time, tickets left out, SLA breach events by time

Revision ID: da2875706a2c
Revises: 2e49409bc42e
Create Date: 2026-11-21 16:40:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = 'da2875706a2c'
down_revision = '2e49409bc42e'
branch_labels = None
depends_on = None

UNSOLVED = "solved_at IS NULL AND closed_at IS NULL AND NOT is_spam AND merged_into_id IS NULL"
LEFT_OUT = "is_spam OR merged_into_id IS NOT NULL"
BREACHES = "kind = 'sla' AND (data ->> 'level') = 'breach'"


def upgrade():
    # The backlog before a report's range, open tickets past due and each agent's open load:
    # index-only counts over the open tickets, whatever the report's filters.
    op.create_index('ix_tickets_unsolved', 'tickets', ['org_id', 'created_at'], unique=False,
                    postgresql_include=['team_id', 'assignee_id', 'channel', 'tags', 'sla_due_at'],
                    postgresql_where=sa.text(UNSOLVED))
    # Replies are checked against the few tickets the reports leave out, not joined to all.
    op.create_index('ix_tickets_left_out', 'tickets', ['org_id', 'id'], unique=False,
                    postgresql_where=sa.text(LEFT_OUT))
    # The SLA report's newest breaches.
    op.create_index('ix_ticket_events_sla_breaches', 'ticket_events', ['org_id', 'created_at'],
                    unique=False, postgresql_where=sa.text(BREACHES))


def downgrade():
    op.drop_index('ix_ticket_events_sla_breaches', table_name='ticket_events',
                  postgresql_where=sa.text(BREACHES))
    op.drop_index('ix_tickets_left_out', table_name='tickets', postgresql_where=sa.text(LEFT_OUT))
    op.drop_index('ix_tickets_unsolved', table_name='tickets', postgresql_where=sa.text(UNSOLVED))
