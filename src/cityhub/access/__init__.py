"""Access: who may see what, and the one door every read goes through."""

from cityhub.access.door import Column, Door, TableView
from cityhub.access.policy import Caller, Role, operator, public

__all__ = ["Caller", "Column", "Door", "Role", "TableView", "operator", "public"]
