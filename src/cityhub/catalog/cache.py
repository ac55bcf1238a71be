"""Answers about the catalog kept until the catalog changes.

A catalog changes only when a sync or a steward writes to it, while portals and clients ask the
same questions over and over (the center's figures, popular searches): an answer is kept until
the catalog's stamp moves, so a repeated question costs one small query instead of the full
work behind it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import Session

from cityhub.catalog.db import driver_rows
from cityhub.catalog.models import Dataset, Department

T = TypeVar("T")


# Built once and run on the driver's cursor: it is asked before every cached answer, and
# building and running it the ORM's way cost more than the rest of a cached search. Three
# subqueries, so that the latest `updated_at` is the last entry of its index (migration 0004):
# beside a count in one SELECT, it would be found by reading every dataset.
_STAMP = sa.select(
    sa.select(sa.func.count()).select_from(Dataset).scalar_subquery(),
    sa.select(sa.func.max(Dataset.updated_at)).scalar_subquery(),
    sa.select(sa.func.count()).select_from(Department).scalar_subquery(),
)


def catalog_stamp(session: Session) -> tuple[Any, ...]:
    """What moves whenever an answer about the catalog may change: the datasets' count and
    latest `updated_at` (a field's change moves its dataset's, see catalog.models) and the
    departments' count, as the driver gives them."""
    return tuple(driver_rows(session, _STAMP)[0])


class CatalogCache:
    """The latest answers (at most `size`), each under the stamp it was computed at. A key must
    name everything the answer depends on besides the catalog, such as what kind of caller asked
    (callers who may see different datasets get different answers)."""

    def __init__(self, size: int = 2048) -> None:
        self._size = size
        self._answers: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, session: Session, key: Hashable, compute: Callable[[], T]) -> T:
        stamped = (catalog_stamp(session), key)
        with self._lock:
            if stamped in self._answers:
                self._answers.move_to_end(stamped)
                found: T = self._answers[stamped]
                return found
        answer = compute()
        with self._lock:
            self._answers[stamped] = answer
            while len(self._answers) > self._size:
                self._answers.popitem(last=False)
        return answer
