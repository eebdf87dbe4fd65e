"""Shop package."""

from .cart import Cart

__all__ = ["Cart"]
