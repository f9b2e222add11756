"""store catalog: the listing price and search words of products, kept by triggers; indexes
for the shop's sort orders, the category filter and full-text search

Revision ID: a17a32442718
Revises: 25e6b3a88002
Create Date: 2026-11-22 09:00:00.000000
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = 'a17a32442718'
down_revision = '25e6b3a88002'
branch_labels = None
depends_on = None

# Triggers rather than generated columns: the text search configuration is the org's and both
# values read the product's variants (a generated column may only read its own row). The
# product's BEFORE trigger computes both from scratch; a change to a variant touches its product
# row so that trigger runs again. SECURITY DEFINER (like the search triggers): the values must
# be right whatever role or org setting the writing transaction has; they filter on org_id.
CATALOG_FUNCTIONS = r"""
CREATE FUNCTION shop_products_derived() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_catalog AS $$
DECLARE
    config regconfig := search_config_of(NEW.org_id);
    lowest bigint;
    skus text;
    option_words text;
BEGIN
    SELECT min(coalesce(v.price, NEW.price)), string_agg(v.sku, ' '),
           string_agg((SELECT string_agg(value, ' ') FROM jsonb_each_text(v.options)), ' ')
      INTO lowest, skus, option_words
      FROM shop_variants v
     WHERE v.org_id = NEW.org_id AND v.product_id = NEW.id AND v.is_active;
    NEW.price_from := coalesce(lowest, NEW.price);
    NEW.search_vector := setweight(to_tsvector(config, coalesce(NEW.name, '')), 'A')
        || setweight(to_tsvector('simple', coalesce(skus, '')), 'A')
        || setweight(to_tsvector(config, coalesce(option_words, '')), 'C')
        || setweight(to_tsvector(config, left(coalesce(NEW.description, ''), 100000)), 'B');
    RETURN NEW;
END $$;

CREATE FUNCTION shop_variants_touch_product() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_catalog AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE shop_products SET price_from = price_from
         WHERE org_id = OLD.org_id AND id = OLD.product_id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND (TG_OP = 'INSERT' OR NEW.product_id <> OLD.product_id)
    THEN
        UPDATE shop_products SET price_from = price_from
         WHERE org_id = NEW.org_id AND id = NEW.product_id;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER shop_products_derived BEFORE INSERT OR UPDATE ON shop_products
    FOR EACH ROW EXECUTE FUNCTION shop_products_derived();
CREATE TRIGGER shop_variants_touch_product
    AFTER INSERT OR DELETE OR UPDATE OF price, is_active, sku, options, product_id
    ON shop_variants FOR EACH ROW EXECUTE FUNCTION shop_variants_touch_product();
"""

DROP_CATALOG_FUNCTIONS = """
DROP TRIGGER IF EXISTS shop_variants_touch_product ON shop_variants;
DROP TRIGGER IF EXISTS shop_products_derived ON shop_products;
DROP FUNCTION IF EXISTS shop_variants_touch_product();
DROP FUNCTION IF EXISTS shop_products_derived();
"""


def upgrade():
    op.add_column('shop_products', sa.Column('price_from', sa.BigInteger(), server_default='0',
                                             nullable=False))
    op.add_column('shop_products', sa.Column('search_vector', postgresql.TSVECTOR(),
                                             nullable=True))
    op.create_index('ix_shop_products_price', 'shop_products',
                    ['org_id', 'is_active', 'price_from', 'id'], unique=False)
    op.create_index('ix_shop_products_name', 'shop_products',
                    ['org_id', 'is_active', 'name', 'id'], unique=False)
    op.create_index('ix_shop_products_category', 'shop_products', ['org_id', 'category_id'],
                    unique=False)
    op.create_index('ix_shop_products_search', 'shop_products', ['search_vector'], unique=False,
                    postgresql_using='gin')
    op.execute(CATALOG_FUNCTIONS)
    # Existing rows get their values through the trigger.
    op.execute("UPDATE shop_products SET price = price")


def downgrade():
    op.execute(DROP_CATALOG_FUNCTIONS)
    op.drop_index('ix_shop_products_search', table_name='shop_products',
                  postgresql_using='gin')
    op.drop_index('ix_shop_products_category', table_name='shop_products')
    op.drop_index('ix_shop_products_name', table_name='shop_products')
    op.drop_index('ix_shop_products_price', table_name='shop_products')
    op.drop_column('shop_products', 'search_vector')
    op.drop_column('shop_products', 'price_from')
