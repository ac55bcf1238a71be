"""The synthetic Jiaxing demo city at seed scale: 49 departments (19 connected), 7,670 fields,
46,590,000 × scale records, delivered as departments deliver files, with the ground truth of who
and what every record refers to.

    city = generate(Path("demo"), scale=0.01)   # files/, truth/, city.toml
    # then: cityhub ingest demo/city.toml
"""

from cityhub.demo.generate import (
    SEED_FIGURES,
    City,
    DatasetFigures,
    Malformed,
    SeedFigures,
    generate,
    quotas,
)

__all__ = [
    "SEED_FIGURES",
    "City",
    "DatasetFigures",
    "Malformed",
    "SeedFigures",
    "generate",
    "quotas",
]
