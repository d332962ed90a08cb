"""Dashboard accounts: users with roles, password sign-in, expiring sessions, rate limits.

Users live in the lake's own database (``LAKE/triage.sqlite``, tables ``users``,
``sessions`` and ``signin_failures``), beside the triage log; every change to a user
(added, role changed, disabled, password changed) and every sign-in is also an event
in the log's hash chain (:mod:`rallypoint.dashboard.triage`), so who could do what,
and since when, is auditable.

- Passwords are hashed with Argon2id (``argon2-cffi``'s defaults: memory-hard, salted),
  never stored or logged in clear; a password has at least :data:`MIN_PASSWORD` characters.
- A session is a random 256-bit token kept by the browser in an HttpOnly cookie; the
  database keeps only its SHA-256, so a copy of the database signs nobody in. A session
  ends after :attr:`AuthSettings.idle_minutes` without use or :attr:`AuthSettings.max_hours`
  after sign-in, whichever comes first, and when its user is disabled.
- Failed sign-ins are counted per name and per client address; past
  :attr:`AuthSettings.max_failures` in :attr:`AuthSettings.window_minutes` the name (or
  address) is refused until the window has passed, right password or not.
- Roles (:data:`ROLES`): viewers read; analysts also decide, comment and assign;
  admins also manage users and export real (unpseudonymized) account ids.

Complexity: every check is one or two indexed lookups; hashing a password costs the
Argon2 parameters' time and memory (tens of milliseconds, 64 MiB) on purpose.
"""

from __future__ import annotations

import getpass
import hashlib
import os
import secrets
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from rallypoint.dashboard.triage import TriageStore
from rallypoint.errors import RallypointError

__all__ = [
    "AUTH_MODES", "MIN_PASSWORD", "PERMISSIONS", "ROLES", "AccountStore", "AuthSettings", "Identity",
    "SignInRefused", "account_store", "local_identity",
]

#: Roles from least to most trusted; each can do what the ones before it can.
ROLES: tuple[str, ...] = ("viewer", "analyst", "admin")
#: What each action needs, as the least role that may do it.
PERMISSIONS: dict[str, str] = {
    "read": "viewer",
    "export_pseudonymized": "viewer",
    "decide": "analyst",
    "comment": "analyst",
    "assign": "analyst",
    "export_real": "admin",
    "manage_users": "admin",
}
#: How the dashboard identifies people: local accounts, an OpenID Connect provider, or nobody (localhost only).
AUTH_MODES: tuple[str, ...] = ("password", "oidc", "none")
MIN_PASSWORD = 12
#: Databases this process has already created the account tables of.
_READY: set[Path] = set()

_DDL = """
CREATE TABLE IF NOT EXISTS users (
    name          TEXT PRIMARY KEY CHECK (length(trim(name)) > 0),
    role          TEXT NOT NULL CHECK (role IN ('viewer', 'analyst', 'admin')),
    password_hash TEXT,
    method        TEXT NOT NULL CHECK (method IN ('password', 'oidc')),
    disabled      INTEGER NOT NULL DEFAULT 0,
    created_at    TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    token_sha256 TEXT PRIMARY KEY,
    name         TEXT NOT NULL REFERENCES users (name),
    created_at   TEXT NOT NULL,
    last_seen    TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS signin_failures (
    name    TEXT NOT NULL,
    address TEXT NOT NULL,
    at      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS failures_by_name ON signin_failures (name, at);
CREATE INDEX IF NOT EXISTS failures_by_address ON signin_failures (address, at);
"""


class SignInRefused(RallypointError):
    """A sign-in that did not succeed; the message is safe to show (it never says which part was wrong)."""


@dataclass(frozen=True)
class AuthSettings:
    """How sign-in behaves; validated once."""

    mode: str = "password"
    idle_minutes: float = 30.0
    max_hours: float = 12.0
    max_failures: int = 5
    window_minutes: float = 15.0

    def __post_init__(self) -> None:
        if self.mode not in AUTH_MODES:
            raise RallypointError(f"The sign-in mode must be one of {', '.join(AUTH_MODES)}, not {self.mode!r}.")
        if not (self.idle_minutes > 0 and self.max_hours > 0 and self.max_failures > 0 and self.window_minutes > 0):
            raise RallypointError("Session and rate-limit settings must be positive.")


@dataclass(frozen=True)
class Identity:
    """Who is signed in: the name recorded on every event, the role, and how they signed in."""

    name: str
    role: str
    method: str

    def can(self, action: str) -> bool:
        return ROLES.index(self.role) >= ROLES.index(PERMISSIONS[action])


def local_identity() -> Identity:
    """The one user of a ``--no-auth`` dashboard on localhost: the operating-system user, as admin."""
    return Identity(f"local:{getpass.getuser()}", "admin", "none")


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat(timespec="microseconds")


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class AccountStore:
    """Users and sessions of one lake's dashboard (``LAKE/triage.sqlite``)."""

    def __init__(self, path: str | os.PathLike[str], settings: AuthSettings | None = None) -> None:
        self.log = TriageStore(path)
        self.path = self.log.path
        self.settings = settings or AuthSettings()
        self._hasher = PasswordHasher()
        if self.path.resolve() not in _READY:
            with closing(self._connect()) as con, con:
                con.executescript(_DDL)
            _READY.add(self.path.resolve())

    def _connect(self) -> sqlite3.Connection:
        con = sqlite3.connect(self.path, timeout=10)
        con.execute("PRAGMA journal_mode=WAL")
        return con

    # --- managing users (the CLI, or an admin) --------------------------------------
    def add_user(self, name: str, role: str, password: str | None, actor: str, *, method: str = "password") -> None:
        """Create a user; ``password`` is required for local accounts, absent for OIDC ones."""
        name = name.strip()
        self._check_role(role)
        if not name or any(c.isspace() or not c.isprintable() for c in name) or len(name) > 128:
            raise RallypointError("A user name must be 1 to 128 printable characters without spaces.")
        if method == "password":
            self._check_password(password)
        elif method != "oidc":
            raise RallypointError(f"A user's sign-in method must be password or oidc, not {method!r}.")
        stored = self._hasher.hash(password) if method == "password" else None
        try:
            with closing(self._connect()) as con, con:
                con.execute("INSERT INTO users (name, role, password_hash, method, created_at) VALUES (?, ?, ?, ?, ?)",
                            (name, role, stored, method, _iso(datetime.now(UTC))))
        except sqlite3.IntegrityError as exc:
            raise RallypointError(f"There is already a user named {name!r}.") from exc
        self.log.append_event("user_added", name, actor, {"role": role, "method": method}, actor_role="admin")

    def set_role(self, name: str, role: str, actor: str) -> None:
        self._check_role(role)
        previous = self.user(name)["role"]
        with closing(self._connect()) as con, con:
            con.execute("UPDATE users SET role = ? WHERE name = ?", (role, name))
        self.log.append_event("role_changed", name, actor, {"role": role, "previous": previous}, actor_role="admin")

    def set_password(self, name: str, password: str, actor: str) -> None:
        self.user(name)
        self._check_password(password)
        with closing(self._connect()) as con, con:
            con.execute("UPDATE users SET password_hash = ? WHERE name = ?", (self._hasher.hash(password), name))
            con.execute("DELETE FROM sessions WHERE name = ?", (name,))
        self.log.append_event("password_changed", name, actor, {}, actor_role="admin")

    def disable(self, name: str, actor: str) -> None:
        self.user(name)
        with closing(self._connect()) as con, con:
            con.execute("UPDATE users SET disabled = 1 WHERE name = ?", (name,))
            con.execute("DELETE FROM sessions WHERE name = ?", (name,))
        self.log.append_event("user_disabled", name, actor, {}, actor_role="admin")

    def user(self, name: str) -> dict:
        with closing(self._connect()) as con:
            row = con.execute("SELECT name, role, method, disabled, created_at FROM users WHERE name = ?",
                              (name,)).fetchone()
        if row is None:
            raise RallypointError(f"There is no user named {name!r}.")
        return dict(zip(("name", "role", "method", "disabled", "created_at"), row, strict=True))

    def users(self) -> list[dict]:
        with closing(self._connect()) as con:
            rows = con.execute("SELECT name, role, method, disabled, created_at FROM users ORDER BY name").fetchall()
        return [dict(zip(("name", "role", "method", "disabled", "created_at"), r, strict=True)) for r in rows]

    def _check_role(self, role: str) -> None:
        if role not in ROLES:
            raise RallypointError(f"A role must be one of {', '.join(ROLES)}, not {role!r}.")

    def _check_password(self, password: str | None) -> None:
        if not password or len(password) < MIN_PASSWORD:
            raise RallypointError(f"A password needs at least {MIN_PASSWORD} characters.")

    # --- signing in ----------------------------------------------------------------
    def sign_in(self, name: str, password: str, address: str, now: datetime | None = None) -> str:
        """A new session token for ``name``, or :class:`SignInRefused` (wrong, disabled or rate-limited)."""
        now = now or datetime.now(UTC)
        s = self.settings
        since = _iso(now - timedelta(minutes=s.window_minutes))
        with closing(self._connect()) as con:
            by_name = con.execute("SELECT count(*) FROM signin_failures WHERE name = ? AND at > ?",
                                  (name, since)).fetchone()[0]
            by_address = con.execute("SELECT count(*) FROM signin_failures WHERE address = ? AND at > ?",
                                     (address, since)).fetchone()[0]
            row = con.execute("SELECT password_hash, disabled, method FROM users WHERE name = ?", (name,)).fetchone()
        if by_name >= s.max_failures or by_address >= 4 * s.max_failures:
            raise SignInRefused(f"Too many failed sign-ins; try again in {s.window_minutes:.0f} minutes.")
        stored = row[0] if row and row[2] == "password" else None
        try:  # an unknown name costs the same hash as a known one
            ok = self._hasher.verify(stored or _DECOY, password) and stored is not None and not row[1]
        except (VerificationError, InvalidHashError):
            ok = False
        if not ok:
            with closing(self._connect()) as con, con:
                con.execute("INSERT INTO signin_failures (name, address, at) VALUES (?, ?, ?)",
                            (name, address, _iso(now)))
            raise SignInRefused("Wrong name or password.")
        token = secrets.token_urlsafe(32)
        with closing(self._connect()) as con, con:
            con.execute("DELETE FROM signin_failures WHERE name = ?", (name,))
            con.execute("INSERT INTO sessions (token_sha256, name, created_at, last_seen) VALUES (?, ?, ?, ?)",
                        (_digest(token), name, _iso(now), _iso(now)))
            if self._hasher.check_needs_rehash(stored):
                con.execute("UPDATE users SET password_hash = ? WHERE name = ?", (self._hasher.hash(password), name))
        self.log.append_event("sign_in", name, name, {"method": "password"}, actor_role=self.user(name)["role"])
        return token

    def identity(self, token: str | None, now: datetime | None = None) -> Identity | None:
        """The signed-in identity of a session token, or ``None`` when it is unknown, expired or disabled."""
        if not token:
            return None
        now = now or datetime.now(UTC)
        with closing(self._connect()) as con, con:
            row = con.execute(
                "SELECT s.name, s.created_at, s.last_seen, u.role, u.disabled FROM sessions s"
                " JOIN users u ON u.name = s.name WHERE s.token_sha256 = ?", (_digest(token),)).fetchone()
            if row is None:
                return None
            name, created, seen, role, disabled = row
            idle = now - datetime.fromisoformat(seen) > timedelta(minutes=self.settings.idle_minutes)
            old = now - datetime.fromisoformat(created) > timedelta(hours=self.settings.max_hours)
            if idle or old or disabled:
                con.execute("DELETE FROM sessions WHERE token_sha256 = ?", (_digest(token),))
                return None
            con.execute("UPDATE sessions SET last_seen = ? WHERE token_sha256 = ?", (_iso(now), _digest(token)))
        return Identity(name, role, "password")

    def sign_out(self, token: str | None) -> None:
        if token:
            with closing(self._connect()) as con, con:
                con.execute("DELETE FROM sessions WHERE token_sha256 = ?", (_digest(token),))

    def oidc_identity(self, email: str | None) -> Identity | None:
        """The role of an identity-provider account: the user of that name (its e-mail), if added and enabled."""
        if not email:
            return None
        with closing(self._connect()) as con:
            row = con.execute("SELECT role, disabled FROM users WHERE name = ? AND method = 'oidc'",
                              (email,)).fetchone()
        return Identity(email, row[0], "oidc") if row and not row[1] else None


#: A hash of a random password, verified against when the name is unknown (same cost, never matches).
_DECOY = PasswordHasher().hash(secrets.token_urlsafe(16))


def account_store(lake_root: str | os.PathLike[str], settings: AuthSettings | None = None) -> AccountStore:
    """The account store of a lake folder."""
    return AccountStore(Path(lake_root) / "triage.sqlite", settings)
