#!/usr/bin/env bash
# Publish tooling and its tests: skopeo (OCI distribution protocol client), Debian's docker-registry with
# htpasswd (apache2-utils) and openssl for the TLS loopback registry (scripts/local-registry.sh), umoci for
# test images, snapd's `snap pack` and squashfs-tools for test snaps. Idempotent and quiet.
. "$(dirname "$0")/../lib.sh"
apt_install skopeo docker-registry apache2-utils openssl curl umoci snapd squashfs-tools
