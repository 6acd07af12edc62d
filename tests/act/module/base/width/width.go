package width

import "github.com/rivo/uniseg"

// Of is the number of user-perceived characters in text.
func Of(text string) int {
	return uniseg.GraphemeClusterCount(text)
}
