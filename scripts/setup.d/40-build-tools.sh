#!/usr/bin/env bash
# Tools of the built-in build backend and of the artifact checks: Debian bootstrap, OCI and
# squashfs tools, a container runtime for running the rock (podman with runc; crun fails on
# cgroup v1 hybrid hosts), and snap (for `snap pack` checks; its daemon is not needed).
# python3-pip: the jupyter flavour's part installs its locked wheels with Debian's pip (offline), and
# `npm run lock` resolves that closure with it; maven: `npm run lock` resolves each line's jar roots into
# their closure with Maven's own resolver; jq: the release workflow reads `publish resolve`.
. "$(dirname "$0")/../lib.sh"
apt_install mmdebstrap rsync pigz umoci skopeo squashfs-tools podman runc uidmap fuse-overlayfs snapd openjdk-17-jdk-headless curl ca-certificates python3-pip maven jq
