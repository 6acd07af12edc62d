// Command api prints a new name.
package main

import (
	"fmt"

	"example.com/workspace/lib"
)

func main() { fmt.Println(lib.NewName()) }
