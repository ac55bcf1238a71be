"""Queries over the lake: specs, their SQL, and running them on the embedded engine."""

from cityhub.query.run import Aggregate, Engine, Page, aggregate, exact_rows, rows
from cityhub.query.spec import AggregateQuery, Filter, Group, Metric, RowsQuery

__all__ = [
    "Aggregate",
    "AggregateQuery",
    "Engine",
    "Filter",
    "Group",
    "Metric",
    "Page",
    "RowsQuery",
    "aggregate",
    "exact_rows",
    "rows",
]
