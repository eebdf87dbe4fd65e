package store

import "testing"

func TestCount(t *testing.T) {}
