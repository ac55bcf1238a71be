"""The demo city's people: one user of every role, so that sharing can be tried at once (a
steward of 公安 answers what a member of 市场监管 requests; a citizen applies for open data).

They share one well-known password: the demo serves on localhost and is not for real data.
"""

from __future__ import annotations

from cityhub.access import users
from cityhub.access.models import User
from cityhub.hub import Hub

DEMO_PASSWORD = "cityhub-demo-2017"

# username -> (department code or None, roles)
DEMO_USERS: dict[str, tuple[str | None, list[str]]] = {
    "admin": (None, ["admin"]),
    "operator": (None, ["operator"]),
    "ga.steward": ("330400-GA", ["steward"]),
    "ga.member": ("330400-GA", ["member"]),
    "scjg.steward": ("330400-SCJG", ["steward"]),
    "scjg.member": ("330400-SCJG", ["member"]),
    "rs.member": ("330400-RS", ["member"]),
    "citizen@example.cn": (None, ["public"]),
}


def ensure_demo_users(hub: Hub) -> list[User]:
    """The demo users, made once (a second run of the demo keeps them as they are)."""
    made = []
    with hub.db.session() as s:
        known = {u.username: u for u in users.list_users(s)}
        for name, (department, roles) in DEMO_USERS.items():
            if name in known:
                made.append(known[name])
                continue
            email = name if "@" in name else None
            made.append(
                users.create_user(
                    s,
                    name,
                    password=DEMO_PASSWORD,
                    department=department,
                    roles=roles,
                    email=email,
                )
            )
    return made
