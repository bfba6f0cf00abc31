module github.com/varco-access/varco

go 1.26.0

require (
	github.com/ebfe/scard v0.0.0-20241214075232-7af069cabc25
	golang.org/x/crypto v0.58.0
)
