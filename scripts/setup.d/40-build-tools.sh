#!/usr/bin/env bash
# Tools of the built-in build backend and of the artifact checks: Debian bootstrap, OCI and
# squashfs tools, a container runtime for running the rock (podman with runc; crun fails on
# cgroup v1 hybrid hosts), and snap (for `snap pack` checks; its daemon is not needed).
. "$(dirname "$0")/../lib.sh"
apt_install mmdebstrap rsync pigz umoci skopeo squashfs-tools podman runc uidmap fuse-overlayfs snapd openjdk-17-jdk-headless curl ca-certificates
