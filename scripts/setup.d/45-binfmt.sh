#!/usr/bin/env bash
# arm64 under emulation (QEMU user-mode through binfmt_misc; scripts/binfmt.sh says which QEMU): what the built-in backend needs
# to build an arm64 cell's Debian root and what the tests use to run arm64 executables. scripts/binfmt.sh
# says what it changes on the host; `scripts/binfmt.sh unregister` undoes it.
exec bash "$(dirname "$0")/../binfmt.sh" register
