"""cityhub: a city's big data center (城市大数据中心)."""

__version__ = "0.1.0"
