#!/usr/bin/env bash
# Debian's headless Chromium for the web-UI scenarios (the history server's and a Spark Connect server's UI,
# rendered by their JavaScript, driven by playwright-core from npm; no browser is downloaded by a test tool).
. "$(dirname "$0")/../lib.sh"
apt_install chromium fonts-dejavu-core
