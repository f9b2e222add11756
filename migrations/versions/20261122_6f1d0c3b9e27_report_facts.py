"""report facts: SLA replies with their ticket's filter columns, kept by triggers

Revision ID: 6f1d0c3b9e27
Revises: a8c8bbaca4b8
Create Date: 2026-11-22 12:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

from helpdesk.core.rls import enable_org_isolation

revision = '6f1d0c3b9e27'
down_revision = 'a8c8bbaca4b8'
branch_labels = None
depends_on = None

FIGURES = ['kind', 'business_minutes', 'breached', 'policy_id', 'agent_id']
ANY_TAG = "counted AND tag = ''"
SOME_TAG = "counted AND tag <> ''"

# The rows of sla_replies `r` (joined to their ticket `t`), one per tag and one with tag ''.
FACTS = """
SELECT r.org_id, r.id, tag.tag, r.ticket_id, r.replied_at, r.kind, r.business_minutes,
       r.breached, r.policy_id, r.agent_id, t.team_id, t.channel,
       NOT t.is_spam AND t.merged_into_id IS NULL
FROM {source}
CROSS JOIN LATERAL (SELECT DISTINCT x AS tag
                    FROM unnest(array_prepend(CAST('' AS varchar), t.tags)) AS x) AS tag
{where}"""
COLUMNS = ("org_id, reply_id, tag, ticket_id, replied_at, kind, business_minutes, breached, "
           "policy_id, agent_id, team_id, channel, counted")

TRIGGERS = f"""
CREATE FUNCTION report_replies_of_reply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        DELETE FROM report_replies WHERE org_id = OLD.org_id AND reply_id = OLD.id;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        INSERT INTO report_replies ({COLUMNS})
        {FACTS.format(source="(SELECT NEW.*) AS r JOIN tickets t "
                             "ON t.org_id = r.org_id AND t.id = r.ticket_id", where="")};
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER report_replies_of_reply AFTER INSERT OR UPDATE OR DELETE ON sla_replies
FOR EACH ROW EXECUTE FUNCTION report_replies_of_reply();

CREATE FUNCTION report_replies_of_ticket() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM report_replies WHERE org_id = NEW.org_id AND ticket_id = NEW.id;
    INSERT INTO report_replies ({COLUMNS})
    {FACTS.format(source="sla_replies r JOIN (SELECT NEW.*) AS t ON true",
                  where="WHERE r.org_id = NEW.org_id AND r.ticket_id = NEW.id")};
    RETURN NULL;
END $$;

CREATE TRIGGER report_replies_of_ticket
AFTER UPDATE OF team_id, channel, tags, is_spam, merged_into_id ON tickets
FOR EACH ROW
WHEN (OLD.team_id IS DISTINCT FROM NEW.team_id OR OLD.channel IS DISTINCT FROM NEW.channel
      OR OLD.tags IS DISTINCT FROM NEW.tags OR OLD.is_spam IS DISTINCT FROM NEW.is_spam
      OR OLD.merged_into_id IS DISTINCT FROM NEW.merged_into_id)
EXECUTE FUNCTION report_replies_of_ticket();
"""


def upgrade():
    op.create_table(
        'report_replies',
        sa.Column('reply_id', sa.BigInteger(), nullable=False),
        sa.Column('tag', sa.String(length=50), nullable=False),
        sa.Column('ticket_id', sa.BigInteger(), nullable=False),
        sa.Column('replied_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('kind', sa.String(length=8), nullable=False),
        sa.Column('business_minutes', sa.Float(), nullable=False),
        sa.Column('breached', sa.Boolean(), nullable=True),
        sa.Column('policy_id', sa.BigInteger(), nullable=True),
        sa.Column('agent_id', sa.BigInteger(), nullable=True),
        sa.Column('team_id', sa.BigInteger(), nullable=True),
        sa.Column('channel', sa.String(length=16), nullable=False),
        sa.Column('counted', sa.Boolean(), nullable=False),
        sa.Column('org_id', sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(['org_id'], ['organizations.id'],
                                name=op.f('fk_report_replies_org_id_organizations'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('reply_id', 'tag', name=op.f('pk_report_replies')),
    )
    enable_org_isolation('report_replies')
    op.execute(f"INSERT INTO report_replies ({COLUMNS}) "
               + FACTS.format(source="sla_replies r JOIN tickets t "
                                     "ON t.org_id = r.org_id AND t.id = r.ticket_id", where=""))
    op.create_index('ix_report_replies_org_id', 'report_replies', ['org_id'], unique=False)
    op.create_index('ix_report_replies_replied', 'report_replies', ['org_id', 'replied_at'],
                    unique=False, postgresql_include=[*FIGURES, 'team_id', 'channel'],
                    postgresql_where=sa.text(ANY_TAG))
    op.create_index('ix_report_replies_team', 'report_replies',
                    ['org_id', 'team_id', 'replied_at'], unique=False,
                    postgresql_include=[*FIGURES, 'channel'], postgresql_where=sa.text(ANY_TAG))
    op.create_index('ix_report_replies_channel', 'report_replies',
                    ['org_id', 'channel', 'replied_at'], unique=False,
                    postgresql_include=[*FIGURES, 'team_id'], postgresql_where=sa.text(ANY_TAG))
    op.create_index('ix_report_replies_tag', 'report_replies', ['org_id', 'tag', 'replied_at'],
                    unique=False, postgresql_include=[*FIGURES, 'team_id', 'channel'],
                    postgresql_where=sa.text(SOME_TAG))
    op.create_index('ix_report_replies_ticket', 'report_replies', ['org_id', 'ticket_id'],
                    unique=False)
    op.execute(TRIGGERS)
    # The reports read these indexes index-only, which needs the visibility map of the copied
    # rows, and the planner needs their statistics: both at once, outside the transaction.
    with op.get_context().autocommit_block():
        op.execute("VACUUM ANALYZE report_replies")


def downgrade():
    op.execute("DROP TRIGGER report_replies_of_ticket ON tickets")
    op.execute("DROP TRIGGER report_replies_of_reply ON sla_replies")
    op.execute("DROP FUNCTION report_replies_of_ticket()")
    op.execute("DROP FUNCTION report_replies_of_reply()")
    op.drop_table('report_replies')
