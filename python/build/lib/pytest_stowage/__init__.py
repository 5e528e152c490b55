"""pytest-stowage: a Stowage registry (a local AWS ECR) for every test."""

from .server import StowageServer, StowageError

__all__ = ["StowageServer", "StowageError"]
