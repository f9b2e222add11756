"""Extensions, created unbound; `create_app` binds them. Nothing here opens a connection."""

from __future__ import annotations

import redis
from flask import Flask, current_app
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_socketio import SocketIO
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect

from helpdesk.core.models import Base

db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
socketio = SocketIO()


class RedisExtension:
    """One Redis client per app, created on first use (redis-py connects lazily anyway)."""

    def init_app(self, app: Flask) -> None:
        app.extensions["redis"] = redis.Redis.from_url(app.config["REDIS_URL"])

    @property
    def client(self) -> redis.Redis:
        return current_app.extensions["redis"]


redis_store = RedisExtension()
