"""The API process's view of the user accounts: which user a token names, and whether any exist.

The users table is read once and cached until SQLite's `data_version` says another connection (the CLI's
`layerlab users add/remove/token`) committed, so accounts change on a running server without a restart
and a request costs one PRAGMA, not a table scan. If the table cannot be read, the directory fails
closed: it reports that users exist (auth stays required) and recognises no token it has not seen.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

from ..jobs.users import Role, UserRecord, UserStore, find_by_token
from .identity import User

log = logging.getLogger(__name__)


class UserDirectory:
    def __init__(self, database: Path) -> None:
        self.database = database
        self._store: UserStore | None = None
        self._version: int | None = None
        self._users: list[UserRecord] = []
        self._readable = False

    def _refresh(self) -> list[UserRecord]:
        try:
            if self._store is None:
                self._store = UserStore(self.database)  # opened lazily: after the lifespan made data_dir
            version = self._store.version()
            if version != self._version or not self._readable:
                self._users = self._store.all()
                self._version = version
                self._readable = True
        except sqlite3.Error:
            log.exception("cannot read the users table; auth stays required")
            self._readable = False
        return self._users

    def has_users(self) -> bool:
        users = self._refresh()
        return bool(users) or not self._readable

    def authenticate(self, token: str) -> User | None:
        """The user this token belongs to, with the owners whose jobs they see; None for no user."""
        users = self._refresh()
        record = find_by_token(users, token)
        if record is None:
            return None
        sees = {record.id}
        if record.role is Role.TEACHER and record.class_name is not None:
            sees.update(u.id for u in users if u.class_name == record.class_name)
        return User(id=record.id, name=record.name, role=record.role, class_name=record.class_name,
                    sees=frozenset(sees))

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None
