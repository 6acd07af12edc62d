package main

import (
	"example.com/actdemo/greet"
	"example.com/actdemo/version"
	"example.com/actdemo/width"
)

func main() {
	message := greet.Hello("act")
	println(message, width.Of(message), version.Newer("v1.2.0", "v1.1.9"))
}
