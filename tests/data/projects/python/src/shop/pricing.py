"""Prices and discounts."""

TAX_RATE = 0.2


def apply_discount(price: float, percent: float) -> float:
    """Return `price` reduced by `percent` percent."""
    if percent < 0 or percent > 100:
        raise ValueError("percent out of range")
    return price * (1 - percent / 100)


def with_tax(price: float) -> float:
    """Return `price` including tax."""
    return price * (1 + TAX_RATE)
