"""Access: who may see what, and the one door every read goes through."""

from cityhub.access.door import Column, Door, Masking, TableView
from cityhub.access.identity import Caller, Role, Scope, operator, public

__all__ = [
    "Caller",
    "Column",
    "Door",
    "Masking",
    "Role",
    "Scope",
    "TableView",
    "operator",
    "public",
]
