# Convenience targets; README.md gives the two commands that matter.
.PHONY: run test build vet bench

run:
	go run ./cmd/civicd

test:
	./scripts/test.sh

build:
	go build -o civicd ./cmd/civicd

vet:
	gofmt -l . && go vet ./...

bench:
	go test -run '^$$' -bench . -benchmem ./...
