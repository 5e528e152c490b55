#!/usr/bin/env bash
# Builds the container image stowage:<version> and stowage:latest, offline: FROM scratch, holding
# the static release binary, the few system libraries it links (glibc, libstdc++, libgcc_s, libz)
# copied from this machine, /etc/passwd for the non-root user and an empty /data.
#
#   scripts/image.sh                 the context in .build/image from the release binary, then the image
#   scripts/image.sh --context-only  only the context
#
# It builds the release binary first when it is missing (`make image` and `make test` build it).
# The builder is docker (DOCKER_HOST is honoured), else podman, else buildah; IMAGE_BUILDER=podman
# chooses one.
set -euo pipefail
cd "$(dirname "$0")/.."

context=.build/image
uid=10001
binary=.build/release/stowage

[ -x "$binary" ] || ${MAKE:-make} build
if ldd "$binary" | grep -q -e libswift -e libFoundation; then
    echo "image.sh: $binary links the Swift runtime dynamically; build it with make build" >&2
    exit 2
fi
version=$("$binary" --version)

rm -rf "$context"
mkdir -p "$context/rootfs/usr/bin" "$context/rootfs/etc" "$context/rootfs/tmp" "$context/data"
chmod 1777 "$context/rootfs/tmp"
strip -o "$context/rootfs/usr/bin/stowage" "$binary"

# Every library the binary loads, and the loader, at the paths the binary looks for them.
for library in $(ldd "$binary" | awk '/=> \// { print $3 } /^[ \t]*\/lib/ { print $1 }'); do
    mkdir -p "$context/rootfs$(dirname "$library")"
    cp -L "$library" "$context/rootfs$library"
done

cat > "$context/rootfs/etc/passwd" <<EOF
root:x:0:0:root:/:/usr/sbin/nologin
stowage:x:$uid:$uid:stowage:/data:/usr/sbin/nologin
EOF
cat > "$context/rootfs/etc/group" <<EOF
root:x:0:
stowage:x:$uid:
EOF
echo "hosts: files dns" > "$context/rootfs/etc/nsswitch.conf"

cat > "$context/Dockerfile" <<EOF
FROM scratch
COPY rootfs/ /
COPY --chown=$uid:$uid data/ /data/
LABEL org.opencontainers.image.title="stowage" \\
      org.opencontainers.image.description="A local AWS ECR: OCI Distribution v2 and the ECR API, with history" \\
      org.opencontainers.image.version="$version"
ENV STOWAGE_HOST=0.0.0.0 STOWAGE_PORT=5000 STOWAGE_DATA_DIR=/data
USER $uid:$uid
WORKDIR /data
VOLUME /data
EXPOSE 5000
HEALTHCHECK --interval=5s --timeout=3s --start-period=1s --retries=3 CMD ["/usr/bin/stowage", "health"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/stowage"]
CMD ["serve"]
EOF

[ "${1:-}" = "--context-only" ] && { echo "image context in $context (stowage $version)"; exit 0; }

builder=${IMAGE_BUILDER:-}
if [ -z "$builder" ]; then
    if command -v docker >/dev/null && docker info >/dev/null 2>&1; then builder=docker
    elif command -v podman >/dev/null; then builder=podman
    elif command -v buildah >/dev/null; then builder=buildah
    else echo "image.sh: no docker daemon, podman or buildah to build with" >&2; exit 2
    fi
fi
tags=(-t "stowage:$version" -t "stowage:latest")
case "$builder" in
    # The classic builder needs no buildx plugin, and FROM scratch pulls nothing.
    docker) DOCKER_BUILDKIT=0 docker build -q "${tags[@]}" "$context" ;;
    podman) podman build --format docker -q "${tags[@]}" "$context" ;;
    buildah) buildah bud --format docker -q "${tags[@]}" "$context" ;;
    *) echo "image.sh: unknown IMAGE_BUILDER $builder" >&2; exit 2 ;;
esac
echo "built stowage:$version and stowage:latest with $builder"
