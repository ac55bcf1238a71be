"""HTTP: the FastAPI app over the library (thin: it translates and calls)."""

from cityhub.api.app import create_app

__all__ = ["create_app"]
