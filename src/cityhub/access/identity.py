"""Who is calling: roles, token scopes and the `Caller` every access decision is made for.

Roles (a user may hold several):
- admin: manages users and tokens, and reads everything;
- operator: runs the center (loads, catalog) and reads everything;
- steward: of their own department, answers requests for its datasets;
- member: a department's user, reads what sharing allows and requests the rest;
- public: a registered member of the public (an open-data contest participant).

A token carries scopes, a subset of what its owner's roles allow: read (data and catalog),
request (ask for access), approve (answer requests, revoke grants), admin (users, tokens).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    OPERATOR = "operator"
    STEWARD = "steward"
    MEMBER = "member"
    PUBLIC = "public"


class Scope(StrEnum):
    READ = "read"
    REQUEST = "request"
    APPROVE = "approve"
    ADMIN = "admin"


ROLE_SCOPES: dict[Role, frozenset[Scope]] = {
    Role.ADMIN: frozenset(Scope),
    Role.OPERATOR: frozenset({Scope.READ, Scope.REQUEST, Scope.APPROVE}),
    Role.STEWARD: frozenset({Scope.READ, Scope.REQUEST, Scope.APPROVE}),
    Role.MEMBER: frozenset({Scope.READ, Scope.REQUEST}),
    Role.PUBLIC: frozenset({Scope.READ, Scope.REQUEST}),
}
DEPARTMENT_ROLES = frozenset({Role.STEWARD, Role.MEMBER})


def allowed_scopes(roles: frozenset[Role]) -> frozenset[Scope]:
    scopes: set[Scope] = set()
    for role in roles:
        scopes |= ROLE_SCOPES[role]
    return frozenset(scopes)


@dataclass(frozen=True)
class Caller:
    """Who is asking: what the access layer decides on, and what the audit records. Anonymous
    callers have no user; the configured operator token stands for a user-less operator."""

    name: str
    roles: frozenset[Role]
    scopes: frozenset[Scope]
    user_id: int | None = None
    department: str | None = None  # code of the caller's department, None for the public
    department_id: int | None = None
    token_id: int | None = None
    address: str | None = None  # client address, for the audit and rate limits

    @property
    def is_operator(self) -> bool:
        """The center's own staff: they read every dataset in full."""
        return bool(self.roles & {Role.ADMIN, Role.OPERATOR})

    @property
    def is_public(self) -> bool:
        """Outside government: anonymous, or a registered member of the public."""
        return not self.is_operator and self.department_id is None

    @property
    def anonymous(self) -> bool:
        return self.user_id is None and not self.is_operator

    @property
    def role(self) -> Role:
        """The caller's highest role, for the audit and for display."""
        for role in Role:
            if role in self.roles:
                return role
        return Role.PUBLIC

    def can(self, scope: Scope) -> bool:
        return scope in self.scopes

    def stewards(self, department_id: int) -> bool:
        """Whether the caller may answer requests for datasets of `department_id`."""
        if Role.ADMIN in self.roles:
            return True
        return Role.STEWARD in self.roles and self.department_id == department_id


def public(address: str | None = None) -> Caller:
    """An anonymous caller: open data only, read scope only."""
    return Caller("anonymous", frozenset({Role.PUBLIC}), frozenset({Scope.READ}), address=address)


def operator(name: str = "operator", address: str | None = None) -> Caller:
    """The operator of the configured token (or of the command line): reads everything."""
    return Caller(
        name,
        frozenset({Role.OPERATOR}),
        ROLE_SCOPES[Role.OPERATOR],
        address=address,
    )
