package greet

// Hello greets name, politely.
func Hello(name string) string {
	return "hello there, " + name
}
