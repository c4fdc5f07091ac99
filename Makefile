# The README's two commands: `make demo` (the main job) and `make test` (every test).
.PHONY: demo test build release deb format

demo:
	./deploy/demo.sh

test:
	./deploy/test.sh

build:
	swift build

# Static, stripped binaries for nodes in dist/ (no Swift toolchain needed there).
release:
	./deploy/release.sh

# Debian packages of those binaries in dist/: cassnap-agent, and cassnap-coordinator with the CLI.
deb:
	./deploy/deb.sh

format:
	swift format --in-place --recursive Sources Tests
