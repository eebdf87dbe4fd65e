package store

import "example.com/shop/internal/model"

// Store keeps items in memory.
type Store struct {
	items []model.Item
}

// Add stores one item.
func (s *Store) Add(item model.Item) {
	s.items = append(s.items, item)
}

// Count returns how many items are stored.
func (s *Store) Count() int {
	return countItems(s.items)
}
