"""inbox: partial index for the spam view

Revision ID: 7c41d2a9e5b0
Revises: 0deb83ec4300
Create Date: 2026-11-21 12:10:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = '7c41d2a9e5b0'
down_revision = '0deb83ec4300'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_tickets_spam', 'tickets', ['org_id', 'last_activity_at', 'id'],
                    unique=False, postgresql_where=sa.text('is_spam'))


def downgrade():
    op.drop_index('ix_tickets_spam', table_name='tickets', postgresql_where=sa.text('is_spam'))
