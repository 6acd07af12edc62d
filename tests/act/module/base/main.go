package main

import (
	"example.com/actdemo/greet"
	"example.com/actdemo/width"
)

func main() {
	message := greet.Hello("act")
	println(message, width.Of(message))
}
