"""Desk settings for the ticket domain (canned responses, rules, fields, teams): on settings_bp."""
