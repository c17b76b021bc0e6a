# Thin front over meson/ninja. `make demo` and `make test` are the README's two commands.
BUILD ?= build
PREFIX ?= /usr/local

.PHONY: all deps test-deps build demo test install clean

all: build

deps:
	@tools/install-deps.sh

test-deps:
	@tools/install-deps.sh --test

$(BUILD)/build.ninja:
	meson setup $(BUILD)

build: $(BUILD)/build.ninja
	ninja -C $(BUILD)

demo: deps build
	@tools/demo.sh

test: test-deps build
	@tests/run-all.sh

install: build
	meson install -C $(BUILD) --strip --destdir "$(DESTDIR)"

clean:
	rm -rf $(BUILD) build-asan
