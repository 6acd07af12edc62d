module example.com/actdemo

go 1.22.0

require github.com/rivo/uniseg v0.4.7
