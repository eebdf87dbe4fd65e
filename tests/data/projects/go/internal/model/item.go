package model

// Item is one product.
type Item struct {
	SKU   string
	Price float64
}

// NewItem builds an item.
func NewItem(sku string, price float64) Item {
	return Item{SKU: sku, Price: price}
}
