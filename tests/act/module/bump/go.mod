module example.com/actdemo

go 1.22.0

require github.com/rivo/uniseg v0.4.7

require golang.org/x/mod v0.22.0
