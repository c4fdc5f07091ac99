# The README's two commands: `make demo` (the main job) and `make test` (every test).
.PHONY: demo test build bench format

demo:
	./deploy/demo.sh

test:
	./deploy/test.sh

build:
	swift build

format:
	swift format --in-place --recursive Sources Tests
