"""Secrets at rest (mailbox passwords): Fernet with ENCRYPTION_KEY, from `cryptography`."""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken
from flask import current_app


class SecretUnreadable(Exception):
    """The stored secret was encrypted with another ENCRYPTION_KEY (or was tampered with)."""


def _fernet() -> Fernet:
    return Fernet(current_app.config["ENCRYPTION_KEY"].encode())


def encrypt(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode() if secret else ""


def decrypt(token: str) -> str:
    if not token:
        return ""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as error:
        raise SecretUnreadable(
            "the stored password cannot be decrypted: was ENCRYPTION_KEY changed? "
            "Enter the password again."
        ) from error
