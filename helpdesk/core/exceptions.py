"""Errors that services raise; views turn them into form errors, the API into JSON."""

from __future__ import annotations


class ServiceError(Exception):
    """Base: a request the service refuses, with a message meant for the user."""

    status = 400

    def __init__(self, message: str, fields: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        self.fields = fields or {}


class ValidationFailed(ServiceError):
    status = 422


class Conflict(ServiceError):
    """Duplicate slug, email already registered, stale state."""

    status = 409


class NotAllowed(ServiceError):
    """The actor's role does not allow this."""

    status = 403


class PlanLimitExceeded(ServiceError):
    """The org's plan does not allow this (agent seats, monthly tickets, features)."""

    status = 403


class NotFound(ServiceError):
    """No such object in this org (or not one this user may see): always a 404."""

    status = 404
