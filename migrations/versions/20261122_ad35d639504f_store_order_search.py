"""store order search: orders' weighted search words kept by triggers, GIN index

Revision ID: ad35d639504f
Revises: 6f1d0c3b9e27
Create Date: 2026-11-22 12:00:00.000000
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = 'ad35d639504f'
down_revision = '6f1d0c3b9e27'
branch_labels = None
depends_on = None

# As the search migration (c3591b8f9a9e): a BEFORE trigger in the org's configuration
# (search_config_of), SECURITY DEFINER so the vector is right whatever role or org setting the
# writing transaction has (every lookup filters on org_id itself). The order number, address
# (whole and in parts) and shipping name weigh A; the lines' product names and SKUs B. Lines are
# written after their order and rarely change: a statement trigger on shop_order_lines touches
# each order whose lines' words changed once per statement (checkout inserts all lines in one),
# and the order's own trigger reads the lines again.
ORDER_SEARCH_FUNCTIONS = r"""
CREATE FUNCTION shop_orders_search_vector() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_catalog AS $$
DECLARE
    config regconfig := search_config_of(NEW.org_id);
    names text;
    skus text;
BEGIN
    SELECT string_agg(product_name, ' ' ORDER BY id), string_agg(sku, ' ' ORDER BY id)
      INTO names, skus
      FROM shop_order_lines
     WHERE org_id = NEW.org_id AND order_id = NEW.id;
    NEW.search_vector := setweight(to_tsvector('simple', NEW.number::text), 'A')
        || setweight(search_address(config, NEW.email), 'A')
        || setweight(to_tsvector(config, coalesce(NEW.shipping_address ->> 'name', '')), 'A')
        || setweight(to_tsvector(config, left(coalesce(names, ''), 100000)), 'B')
        || setweight(to_tsvector('simple', left(coalesce(skus, ''), 100000)), 'B');
    RETURN NEW;
END $$;

-- Transition tables: one trigger per event (PostgreSQL allows no column list with them, so the
-- UPDATE one compares the words itself: a refund's refunded_quantity touches nothing).
CREATE FUNCTION shop_order_lines_touch_order() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_catalog AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE shop_orders o SET email = o.email
          FROM (SELECT DISTINCT org_id, order_id FROM new_lines) l
         WHERE o.org_id = l.org_id AND o.id = l.order_id;
    ELSIF TG_OP = 'DELETE' THEN
        UPDATE shop_orders o SET email = o.email
          FROM (SELECT DISTINCT org_id, order_id FROM old_lines) l
         WHERE o.org_id = l.org_id AND o.id = l.order_id;
    ELSE
        UPDATE shop_orders o SET email = o.email
          FROM (SELECT n.org_id, n.order_id FROM new_lines n JOIN old_lines p ON p.id = n.id
                 WHERE (n.order_id, n.product_name, n.sku)
                       IS DISTINCT FROM (p.order_id, p.product_name, p.sku)
                UNION
                SELECT p.org_id, p.order_id FROM new_lines n JOIN old_lines p ON p.id = n.id
                 WHERE (n.order_id, n.product_name, n.sku)
                       IS DISTINCT FROM (p.order_id, p.product_name, p.sku)) l
         WHERE o.org_id = l.org_id AND o.id = l.order_id;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER shop_orders_search_vector
    BEFORE INSERT OR UPDATE OF number, email, shipping_address ON shop_orders
    FOR EACH ROW EXECUTE FUNCTION shop_orders_search_vector();
CREATE TRIGGER shop_order_lines_inserted_touch_order AFTER INSERT ON shop_order_lines
    REFERENCING NEW TABLE AS new_lines
    FOR EACH STATEMENT EXECUTE FUNCTION shop_order_lines_touch_order();
CREATE TRIGGER shop_order_lines_updated_touch_order AFTER UPDATE ON shop_order_lines
    REFERENCING OLD TABLE AS old_lines NEW TABLE AS new_lines
    FOR EACH STATEMENT EXECUTE FUNCTION shop_order_lines_touch_order();
CREATE TRIGGER shop_order_lines_deleted_touch_order AFTER DELETE ON shop_order_lines
    REFERENCING OLD TABLE AS old_lines
    FOR EACH STATEMENT EXECUTE FUNCTION shop_order_lines_touch_order();
"""

DROP_ORDER_SEARCH_FUNCTIONS = """
DROP TRIGGER IF EXISTS shop_order_lines_deleted_touch_order ON shop_order_lines;
DROP TRIGGER IF EXISTS shop_order_lines_updated_touch_order ON shop_order_lines;
DROP TRIGGER IF EXISTS shop_order_lines_inserted_touch_order ON shop_order_lines;
DROP TRIGGER IF EXISTS shop_orders_search_vector ON shop_orders;
DROP FUNCTION IF EXISTS shop_order_lines_touch_order();
DROP FUNCTION IF EXISTS shop_orders_search_vector();
"""


def upgrade():
    op.add_column('shop_orders', sa.Column('search_vector', postgresql.TSVECTOR(), nullable=True))
    op.create_index('ix_shop_orders_search', 'shop_orders', ['search_vector'], unique=False,
                    postgresql_using='gin')
    # As the other searched tables (migration search_plans): statistics for ~10,000 words, so
    # a rare number or address is not estimated common.
    op.execute("ALTER TABLE shop_orders ALTER COLUMN search_vector SET STATISTICS 1000")
    op.execute(ORDER_SEARCH_FUNCTIONS)
    # Existing orders get their vectors through the trigger.
    op.execute("UPDATE shop_orders SET email = email")


def downgrade():
    op.execute(DROP_ORDER_SEARCH_FUNCTIONS)
    op.drop_index('ix_shop_orders_search', table_name='shop_orders', postgresql_using='gin')
    op.drop_column('shop_orders', 'search_vector')
