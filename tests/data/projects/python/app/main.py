"""Command-line entry point."""

import shop.util.text as text_helpers
from shop import Cart
from shop.pricing import apply_discount


def checkout(cart: Cart) -> float:
    label = text_helpers.slugify("Order total")
    price = apply_discount(cart.subtotal(), 10)
    return price if label else 0.0
