#!/usr/bin/env bash
# Installs the peers `make bench` compares against (the reference registry, moto) and its clients (wrk, curl, boto3).
set -euo pipefail
missing=()
for package in docker-registry wrk curl; do dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package"); done
if [ ${#missing[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
for package in "moto[server]" boto3; do
    python3 -m pip show -q "${package%%[*}" >/dev/null 2>&1 || python3 -m pip install -q "$package"
done
