"""Schema drift between the fields a dataset has and the columns a new sync brings."""

from __future__ import annotations

from dataclasses import dataclass

from cityhub.catalog.vocab import DataType


@dataclass(frozen=True)
class Column:
    title: str
    data_type: DataType


@dataclass(frozen=True)
class Change:
    kind: str  # added / removed / renamed / retyped
    field: str  # the title concerned (the new one for a rename)
    old: str | None
    new: str | None
    breaking: bool

    def describe(self) -> str:
        match self.kind:
            case "added":
                return f"field {self.field!r} added ({self.new})"
            case "removed":
                return f"field {self.field!r} removed"
            case "renamed":
                return f"field {self.old!r} renamed to {self.new!r}"
        return f"field {self.field!r} changed type from {self.old} to {self.new}"


def compare(old: list[Column], new: list[Column]) -> list[Change]:
    """Added fields evolve the table; removed, renamed and retyped ones break its readers.

    A removed and an added field standing at the same position with the same type are taken
    as one rename.
    """
    old_by_title = {c.title: c for c in old}
    new_titles = {c.title for c in new}
    removed = [(i, c) for i, c in enumerate(old) if c.title not in new_titles]
    added = [(i, c) for i, c in enumerate(new) if c.title not in old_by_title]
    changes: list[Change] = []
    renamed_old: set[str] = set()
    renamed_new: set[str] = set()
    old_pos = {i: c for i, c in removed}
    for i, c in added:
        gone = old_pos.get(i)
        if gone is not None and gone.data_type == c.data_type:
            changes.append(Change("renamed", c.title, gone.title, c.title, True))
            renamed_old.add(gone.title)
            renamed_new.add(c.title)
    changes += [
        Change("removed", c.title, c.data_type.value, None, True)
        for _, c in removed
        if c.title not in renamed_old
    ]
    changes += [
        Change("added", c.title, None, c.data_type.value, False)
        for _, c in added
        if c.title not in renamed_new
    ]
    for c in new:
        before = old_by_title.get(c.title)
        if before is not None and before.data_type != c.data_type:
            changes.append(
                Change("retyped", c.title, before.data_type.value, c.data_type.value, True)
            )
    return changes
