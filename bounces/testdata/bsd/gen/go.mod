module crier.invalid/bsdgen

go 1.22

require libsisimai.org/sisimai v0.0.0

require (
	golang.org/x/net v0.35.0 // indirect
	golang.org/x/text v0.22.0 // indirect
)

// The Go port is not published as a versioned module: extract it next to
// this file (see main.go) and the replace below picks it up.
replace libsisimai.org/sisimai => ./go-sisimai
