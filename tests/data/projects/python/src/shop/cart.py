"""A shopping cart."""

from __future__ import annotations

from dataclasses import dataclass, field

from .pricing import apply_discount, with_tax


@dataclass
class LineItem:
    """One product line."""

    sku: str
    price: float
    quantity: int = 1


@dataclass
class Cart:
    """Items a customer is about to buy."""

    items: list[LineItem] = field(default_factory=list)

    def add(self, sku: str, price: float, quantity: int = 1) -> None:
        """Add `quantity` units of `sku`."""
        self.items.append(LineItem(sku, price, quantity))

    def subtotal(self) -> float:
        """Sum of line prices before discounts."""
        return sum(item.price * item.quantity for item in self.items)

    def total(self, discount: float = 0.0) -> float:
        """Total with discount and tax applied."""
        return with_tax(apply_discount(self.subtotal(), discount))
