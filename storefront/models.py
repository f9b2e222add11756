"""Catalog, cart, orders: the storefront issue adds its models here."""
