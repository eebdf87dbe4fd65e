package main

import (
	"fmt"

	m "example.com/shop/internal/model"
	"example.com/shop/store"
)

func main() {
	s := &store.Store{}
	s.Add(m.NewItem("a", 1))
	fmt.Println(s.Count())
}
