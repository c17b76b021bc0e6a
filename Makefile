# Thin front over meson/ninja. `make demo` and `make test` are the README's two commands.
BUILD ?= build
PREFIX ?= /usr/local

.PHONY: all deps build demo test test-asan install clean

all: build

deps:
	@tools/install-deps.sh

$(BUILD)/build.ninja:
	meson setup $(BUILD)

build: $(BUILD)/build.ninja
	ninja -C $(BUILD)

demo: deps build
	@tools/demo.sh

test: deps build
	@tests/run-all.sh

install: build
	meson install -C $(BUILD) --destdir "$(DESTDIR)"

clean:
	rm -rf $(BUILD) build-asan
