# mpvmm: the two commands are `make run` and `make test`; everything else is a detail.
#
# The build itself is Meson + Ninja (meson.build).  This Makefile only installs what is
# missing (scripts/deps.sh), configures one build directory per sanitizer setting, and runs
# things.  SANITIZE=address,undefined or SANITIZE=thread builds and tests a sanitized copy.

comma := ,
SANITIZE ?=
ifeq ($(SANITIZE),)
BUILDDIR ?= build
MESON_SANITIZE :=
else
BUILDDIR ?= build-$(subst $(comma),-,$(SANITIZE))
MESON_SANITIZE := -Db_sanitize=$(SANITIZE) -Db_lundef=false
endif

RUN_ARGS ?=

.PHONY: all deps build run test test-slow bench clean

all: build

deps:
	@scripts/deps.sh

$(BUILDDIR)/build.ninja:
	@scripts/deps.sh
	meson setup $(BUILDDIR) $(MESON_SANITIZE)

build: $(BUILDDIR)/build.ninja
	ninja -C $(BUILDDIR)

run: build
	$(BUILDDIR)/mpvmm $(RUN_ARGS)

test: build
	tests/run.sh $(BUILDDIR)

test-slow: build
	@scripts/deps.sh --slow
	tests/run.sh --slow $(BUILDDIR)

bench: build
	@scripts/deps.sh --bench
	bench/apboot $(BUILDDIR)/mpvmm

clean:
	rm -rf build build-*
