"""User accounts: name, role (student | teacher), class, and the SHA-256 hash of the user's token.

The table lives in the job store's SQLite database (its own connection, same file, WAL). A token is shown
once when it is made (`layerlab users add`) and only its hash is kept, so a copied database leaks no
credentials. Jobs are owned by the user's random id, not the name: removing a user and adding the name
again does not hand the old jobs to the new account.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import sqlite3
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL CHECK (role IN ('student', 'teacher')),
    class_name TEXT,
    token_hash TEXT NOT NULL UNIQUE,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS users_class ON users(class_name);
"""

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
TOKEN_BYTES = 32  # 256 random bits; token_urlsafe gives 43 characters of A-Z a-z 0-9 - _


class Role(StrEnum):
    STUDENT = "student"
    TEACHER = "teacher"


class UserError(ValueError):
    """A user request that cannot be done (bad name, duplicate, unknown user); the message says why."""


@dataclass(frozen=True)
class UserRecord:
    id: str
    name: str
    role: Role
    class_name: str | None
    token_hash: str
    created_at: float


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def find_by_token(users: Iterable[UserRecord], token: str) -> UserRecord | None:
    """The user whose hash matches, comparing against every user without stopping early (constant time
    in which user matches and in how much of a hash matches)."""
    given = hash_token(token).encode()
    found: UserRecord | None = None
    for user in users:
        if hmac.compare_digest(given, user.token_hash.encode()):
            found = user
    return found


def check_name(value: str, what: str) -> str:
    if not NAME.fullmatch(value):
        raise UserError(f"{what} {value[:80]!r} must be 1-64 characters of A-Z a-z 0-9 . _ -, starting with a "
                        "letter or digit")
    return value


class UserStore:
    """CRUD on the users table. Used by the CLI (short-lived) and by the API's user directory."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=5.0)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> UserStore:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def add(self, name: str, role: Role = Role.STUDENT, class_name: str | None = None) -> tuple[UserRecord, str]:
        """Create a user; (record, token). The token is returned here and never stored."""
        check_name(name, "user name")
        if class_name is not None:
            check_name(class_name, "class")
        token = secrets.token_urlsafe(TOKEN_BYTES)
        record = UserRecord(uuid.uuid4().hex, name, role, class_name, hash_token(token), time.time())
        try:
            self._db.execute(
                "INSERT INTO users (id, name, role, class_name, token_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (record.id, name, role.value, class_name, record.token_hash, record.created_at),
            )
        except sqlite3.IntegrityError:
            raise UserError(f"user {name!r} already exists; remove it first or issue a new token") from None
        return record, token

    def new_token(self, name: str) -> str:
        """Replace a user's token (the old one stops working at once); the user keeps their jobs."""
        token = secrets.token_urlsafe(TOKEN_BYTES)
        cur = self._db.execute("UPDATE users SET token_hash = ? WHERE name = ?", (hash_token(token), name))
        if cur.rowcount != 1:
            raise UserError(f"no user {name[:80]!r}")
        return token

    def remove(self, name: str) -> None:
        """Delete the account (its token stops working); its jobs stay in the store, visible to nobody."""
        if self._db.execute("DELETE FROM users WHERE name = ?", (name,)).rowcount != 1:
            raise UserError(f"no user {name[:80]!r}")

    def all(self) -> list[UserRecord]:
        rows = self._db.execute(
            "SELECT id, name, role, class_name, token_hash, created_at FROM users ORDER BY name"
        ).fetchall()
        return [UserRecord(r[0], r[1], Role(r[2]), r[3], r[4], r[5]) for r in rows]

    def version(self) -> int:
        """Changes whenever another connection commits to the database: the directory's cache key."""
        return int(self._db.execute("PRAGMA data_version").fetchone()[0])


def users_exist(database_url: str) -> bool:
    """Whether the job store named by a settings database URL has any user account."""
    from .store import sqlite_path

    try:
        return count_users(sqlite_path(database_url)) > 0
    except ValueError:  # not an sqlite:/// URL: no store we can read, so no users
        return False


def count_users(path: Path) -> int:
    """Users in the database at `path` without creating anything (0 when there is no database yet)."""
    if not path.is_file():
        return 0
    db = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True, timeout=5.0)
    try:
        return int(db.execute("SELECT COUNT(*) FROM users").fetchone()[0])
    except sqlite3.OperationalError:  # a job store made before users existed has no such table
        return 0
    finally:
        db.close()
