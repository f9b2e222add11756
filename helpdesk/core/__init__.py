"""Shared plumbing: model base, tenancy, jobs, security, mail."""
