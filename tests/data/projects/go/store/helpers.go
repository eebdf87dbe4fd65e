package store

import "example.com/shop/internal/model"

func countItems(items []model.Item) int {
	return len(items)
}
