// Package lib names things.
package lib

import "github.com/google/uuid"

// NewName returns a fresh random name.
func NewName() string { return "item-" + uuid.NewString() }
