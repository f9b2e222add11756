"""store stripe customers: the shop customer's Stripe Customer id (saved cards)

Revision ID: a8c8bbaca4b8
Revises: a17a32442718
Create Date: 2026-11-22 10:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = 'a8c8bbaca4b8'
down_revision = 'a17a32442718'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('customers', sa.Column('stripe_customer_id', sa.String(length=255),
                                         nullable=True))


def downgrade():
    op.drop_column('customers', 'stripe_customer_id')
