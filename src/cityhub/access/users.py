"""Users, passwords and bearer tokens: the library behind `cityhub user|token` and the API.

Passwords are hashed with argon2id. A token is 32 random bytes shown once when it is made;
only its SHA-256 is stored (a token is already high-entropy, so a fast hash loses nothing and
keeps every request's lookup cheap), with its first characters to tell tokens apart.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.orm import Session, selectinload

from cityhub.access.identity import (
    DEPARTMENT_ROLES,
    Caller,
    Role,
    Scope,
    allowed_scopes,
)
from cityhub.access.models import ApiToken, User
from cityhub.catalog.models import utcnow
from cityhub.catalog.service import get_department
from cityhub.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized

TOKEN_PREFIX = "chk_"  # cityhub key: lets secret scanners and people recognise one
SHOWN_CHARS = 12  # of a token kept in clear, to tell tokens apart in lists
LAST_USED_EVERY = timedelta(minutes=1)  # last-used time is written at most this often
MIN_PASSWORD = 10
_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_USERNAME = re.compile(r"^[\w.@-]{2,100}$")


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(f"a password needs at least {MIN_PASSWORD} characters")
    return _hasher.hash(password)


def check_password(user: User, password: str) -> bool:
    """Whether `password` is the user's; a hash made with older parameters is renewed."""
    if not user.password_hash:
        return False
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return True


def token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def _roles(names: list[str] | tuple[str, ...]) -> list[str]:
    try:
        roles = sorted({Role(n.strip().lower()) for n in names if n.strip()})
    except ValueError:
        valid = ", ".join(r.value for r in Role)
        raise InvalidInput(f"unknown role in {list(names)}; roles: {valid}") from None
    return [r.value for r in roles] or [Role.MEMBER.value]


def create_user(
    s: Session,
    username: str,
    *,
    password: str | None = None,
    department: str | None = None,
    roles: list[str] | tuple[str, ...] = ("member",),
    email: str | None = None,
    display_name: str | None = None,
) -> User:
    """A new user. Department roles (steward, member) need a department; public users have
    none."""
    if not _USERNAME.match(username):
        raise InvalidInput(f"user name {username!r}: 2-100 letters, digits, '.', '_', '-' or '@'")
    if email is not None and not _EMAIL.match(email):
        raise InvalidInput(f"email {email!r} is not an email address")
    if s.scalar(sa.select(User.id).where(User.username == username)) is not None:
        raise Conflict(f"user {username!r} exists already", user=username)
    role_names = _roles(roles)
    dept = get_department(s, department) if department else None
    if dept is None and DEPARTMENT_ROLES & {Role(r) for r in role_names}:
        raise InvalidInput(f"user {username!r}: roles {role_names} need --department")
    if dept is not None and Role.PUBLIC.value in role_names:
        raise InvalidInput(f"user {username!r}: a public user belongs to no department")
    if email and s.scalar(sa.select(User.id).where(User.email == email)) is not None:
        raise Conflict(f"email {email!r} is registered already", email=email)
    user = User(
        username=username,
        email=email,
        display_name=display_name,
        department=dept,
        roles=role_names,
        password_hash=hash_password(password) if password is not None else None,
    )
    s.add(user)
    s.flush()
    return user


def get_user(s: Session, username: str) -> User:
    user = s.scalar(
        sa.select(User).where(User.username == username).options(selectinload(User.department))
    )
    if user is None:
        raise NotFound(f"no user {username!r}", user=username)
    return user


def list_users(s: Session) -> list[User]:
    return list(
        s.scalars(sa.select(User).order_by(User.username).options(selectinload(User.department)))
    )


def set_password(s: Session, user: User, password: str) -> None:
    user.password_hash = hash_password(password)
    # a new password ends the sessions made with the old one
    for token in user.tokens:
        if token.kind == "session" and token.revoked_at is None:
            token.revoked_at = utcnow()


def change_user(
    s: Session,
    user: User,
    *,
    roles: list[str] | None = None,
    active: bool | None = None,
    password: str | None = None,
    display_name: str | None = None,
) -> list[str]:
    """Apply the given changes; returns what changed (never the password itself)."""
    changed = []
    if roles is not None:
        names = _roles(roles)
        if user.department_id is None and DEPARTMENT_ROLES & {Role(r) for r in names}:
            raise InvalidInput(f"user {user.username!r}: roles {names} need a department")
        user.roles = names
        changed.append("roles")
    if password is not None:
        set_password(s, user, password)
        changed.append("password")
    if display_name is not None:
        user.display_name = display_name
        changed.append("display_name")
    if active is not None and active != user.active:
        if active:
            user.active = True
        else:
            deactivate(s, user)
        changed.append("active")
    return changed


def deactivate(s: Session, user: User) -> None:
    """The user can no longer log in, and every token of theirs stops at once."""
    user.active = False
    now = utcnow()
    for token in user.tokens:
        if token.revoked_at is None:
            token.revoked_at = now


@dataclass(frozen=True)
class Issued:
    token: ApiToken
    secret: str  # shown once, never stored


def issue_token(
    s: Session,
    user: User,
    name: str,
    *,
    scopes: list[str] | tuple[str, ...] | None = None,
    days: float | None = 90,
    kind: str = "api",
) -> Issued:
    """A new bearer token for `user`. Scopes default to all the user's roles allow; asking for
    more is refused. `days=None` never expires (discouraged; for service accounts)."""
    granted = allowed_scopes(frozenset(Role(r) for r in user.roles))
    try:
        wanted = frozenset(Scope(x) for x in scopes) if scopes else granted
    except ValueError:
        valid = ", ".join(x.value for x in Scope)
        raise InvalidInput(f"unknown scope in {list(scopes or [])}; scopes: {valid}") from None
    if not wanted <= granted:
        extra = ", ".join(sorted(wanted - granted))
        raise Forbidden(f"user {user.username!r} may not hold a token with scope {extra}")
    if days is not None and days <= 0:
        raise InvalidInput("a token's lifetime must be positive (days)")
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user=user,
        name=name,
        kind=kind,
        prefix=raw[:SHOWN_CHARS],
        token_hash=token_hash(raw),
        scopes=sorted(wanted),
        expires_at=utcnow() + timedelta(days=days) if days is not None else None,
    )
    s.add(token)
    s.flush()
    return Issued(token, raw)


def user_tokens(s: Session, user: User) -> list[ApiToken]:
    return list(
        s.scalars(
            sa.select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id.desc())
        )
    )


def find_token(s: Session, ident: str) -> ApiToken:
    """A token by its id or its shown prefix."""
    where = ApiToken.prefix == ident if not ident.isdigit() else ApiToken.id == int(ident)
    token = s.scalar(sa.select(ApiToken).where(where).options(selectinload(ApiToken.user)))
    if token is None:
        raise NotFound(f"no token {ident!r}", token=ident)
    return token


def revoke_token(s: Session, token: ApiToken) -> None:
    if token.revoked_at is None:
        token.revoked_at = utcnow()


def _aware(t: datetime) -> datetime:
    # SQLite hands datetimes back without their zone; they are stored in UTC
    return t if t.tzinfo is not None else t.replace(tzinfo=utcnow().tzinfo)


def token_state(token: ApiToken, now: datetime | None = None) -> str:
    """active, expired or revoked."""
    now = now or utcnow()
    if token.revoked_at is not None:
        return "revoked"
    if token.expires_at is not None and _aware(token.expires_at) <= now:
        return "expired"
    return "active"


def authenticate(s: Session, raw: str, address: str | None = None) -> Caller:
    """The caller a bearer token stands for. A token that is unknown, expired or revoked, or
    whose user is deactivated, is refused with the same answer (nothing to probe)."""
    token = s.scalar(
        sa.select(ApiToken)
        .where(ApiToken.token_hash == token_hash(raw.strip()))
        .options(selectinload(ApiToken.user).selectinload(User.department))
    )
    now = utcnow()
    if token is None or token_state(token, now) != "active" or not token.user.active:
        raise Unauthorized(
            "the token is not valid (unknown, expired or revoked); log in again or ask for a "
            "new token, or leave Authorization out to read open data"
        )
    if token.last_used_at is None or now - _aware(token.last_used_at) > LAST_USED_EVERY:
        token.last_used_at = now
    return caller_of(token.user, frozenset(Scope(x) for x in token.scopes), token.id, address)


def caller_of(
    user: User,
    scopes: frozenset[Scope] | None = None,
    token_id: int | None = None,
    address: str | None = None,
) -> Caller:
    roles = frozenset(Role(r) for r in user.roles)
    allowed = allowed_scopes(roles)
    dept = user.department
    return Caller(
        name=user.username,
        roles=roles,
        scopes=allowed if scopes is None else scopes & allowed,
        user_id=user.id,
        department=dept.code if dept is not None else None,
        department_id=dept.id if dept is not None else None,
        token_id=token_id,
        address=address,
    )


def login(
    s: Session, username: str, password: str, *, hours: float, address: str | None = None
) -> tuple[User, Issued]:
    """A session token for a user who gave the right password."""
    user = s.scalar(
        sa.select(User)
        .where(sa.or_(User.username == username, User.email == username))
        .options(selectinload(User.department))
    )
    if user is None or not user.active or not check_password(user, password):
        raise Unauthorized("wrong user name or password")
    user.last_login_at = utcnow()
    issued = issue_token(s, user, "login", days=hours / 24, kind="session")
    return user, issued


def register_public(
    s: Session, email: str, password: str, display_name: str | None = None
) -> tuple[User, Issued]:
    """Self-registration of a member of the public (e.g. an open-data contest participant):
    a user named by their email, and a key to read open data and apply for the rest."""
    user = create_user(
        s,
        email,
        password=password,
        roles=["public"],
        email=email,
        display_name=display_name,
    )
    return user, issue_token(s, user, "open data key", days=365)
