#!/usr/bin/env bash
# Installs what `make test` needs on a fresh Debian machine; does nothing for what is already there.
set -euo pipefail

# libz-dev is Debian's virtual name for zlib1g-dev; docker.io brings dockerd, containerd and runc;
# binutils has the strip the container image is built with.
# fuse3 and mfusepy run LazyFS, the forgetful file system of the power-loss test; chromium,
# chromium-driver and selenium drive the history page in a real browser.
apt_packages=(zlib1g-dev binutils skopeo podman docker.io fuse3 chromium chromium-driver)
pip_packages=(pytest oras boto3 awscli mfusepy selenium)

missing=()
for package in "${apt_packages[@]}"; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "installing with apt: ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

for package in "${pip_packages[@]}"; do
    python3 -m pip show -q "$package" >/dev/null 2>&1 || { echo "installing with pip: $package"; python3 -m pip install -q "$package"; }
done

# pytest-stowage, the plugin in python/ (its own tests run in make test): always reinstalled, so
# the installed copy is the checkout's.
python3 -m pip install -q ./python
