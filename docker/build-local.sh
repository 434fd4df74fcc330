#!/usr/bin/env bash
# Build the scheduler-server image on a machine that reaches no image registry (only Debian's
# package archive), from docker/Dockerfile's own runtime stage:
#
#   1. installs docker.io and debootstrap if missing (apt, bounded) and starts dockerd if no
#      daemon answers (CI calls this on a clean machine);
#   2. makes the local runtime base, a Debian bookworm minbase with ca-certificates and the
#      distroless non-root user (uid/gid 65532), once: it is kept under $BASE_TAG and reused;
#   3. builds docker/Dockerfile with that base as RUNTIME_IMAGE and BINARY_FROM=prebuilt: the
#      binary is a stripped copy of one built on the host (no Rust image, no compile in Docker).
#
# Prints the server image's tag as the LAST line of stdout; everything else goes to stderr.
#
#   docker/build-local.sh                      # -> scheduler-local/scheduler:latest
#   SERVER_BIN=target/release/scheduler-server docker/build-local.sh
#
# Environment:
#   SERVER_BIN    binary to ship (default: target/release/scheduler-server if it exists and is
#                 newer than target/debug/scheduler-server, else the debug one; if neither
#                 exists, `cargo build -p scheduler-server` makes the debug one)
#   IMAGE_TAG     tag of the server image (default scheduler-local/scheduler:latest)
#   BASE_TAG      tag of the local base image (default scheduler-local/debian:bookworm)
#   DEBIAN_MIRROR archive debootstrap installs from (default http://deb.debian.org/debian)
#   DOCKER        docker client to use (default: /usr/bin/docker if present, else docker)
#   DOCKERD_ARGS  arguments of a dockerd this script starts (default --storage-driver=vfs, which
#                 works anywhere; overlay2 also works on the development machine and starts a
#                 container in 0.5 s instead of 9, but after switching drivers on one
#                 /var/lib/docker, BuildKit's cache needs `docker builder prune -af`)
set -euo pipefail
# A SERVER_BIN given relative to the caller's directory, before moving to the repository root.
if [ -n "${SERVER_BIN:-}" ]; then SERVER_BIN=$(realpath -m -- "$SERVER_BIN"); fi
cd "$(dirname "$0")/.."

IMAGE_TAG=${IMAGE_TAG:-scheduler-local/scheduler:latest}
BASE_TAG=${BASE_TAG:-scheduler-local/debian:bookworm}
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
DOCKERD_ARGS=${DOCKERD_ARGS:---storage-driver=vfs}

# Only the tag goes to stdout (fd 3); everything else, ours and the tools', to stderr.
exec 3>&1 1>&2
log() { echo "build-local: $*"; }
die() { echo "build-local: error: $*"; exit 1; }
started=$SECONDS

# On disk (/var/tmp), not a possibly small or nodev /tmp: debootstrap writes ~200 MB there.
workdir=$(mktemp -d /var/tmp/scheduler-build-local.XXXXXX)
cleanup() {
    # A failed debootstrap can leave /proc or /sys mounted inside the root file system: unmount
    # before deleting, and never cross into another file system.
    if [ -d "$workdir/rootfs" ]; then
        grep -o " $workdir/rootfs[^ ]*" /proc/mounts | sort -r | xargs -r -n 1 umount -l || true
    fi
    rm -rf --one-file-system "$workdir"
}
trap cleanup EXIT

# --- 1. engine and tools -------------------------------------------------------------------
apt_install() { # packages...
    [ "$(id -u)" = 0 ] || die "missing $*; install them (apt-get install $*) or run as root"
    log "installing $* (apt, at most 15 minutes; log: /tmp/build-local-apt.log)"
    export DEBIAN_FRONTEND=noninteractive
    { timeout 300 apt-get update -qq && timeout 600 apt-get install -y -qq "$@"; } \
        >/tmp/build-local-apt.log 2>&1 || {
        tail -n 20 /tmp/build-local-apt.log
        die "installing $* failed"
    }
}
# The client packaged with the engine first: a newer stand-alone client (here /usr/local/bin)
# without the buildx plugin cannot run BuildKit builds, which skipping unused stages needs.
requested_docker=${DOCKER:-}
pick_docker() {
    if [ -n "$requested_docker" ]; then DOCKER=$requested_docker
    elif [ -x /usr/bin/docker ]; then DOCKER=/usr/bin/docker
    else DOCKER=$(command -v docker || true); fi
}
pick_docker
if [ -z "$DOCKER" ] || ! "$DOCKER" info >/dev/null 2>&1; then
    if ! command -v dockerd >/dev/null 2>&1 || [ -z "$DOCKER" ]; then
        apt_install docker.io
        pick_docker
    fi
    log "starting dockerd $DOCKERD_ARGS (log: /tmp/dockerd.log)"
    # Without fd 3 (the caller's stdout): `$(build-local.sh)` would wait for dockerd to exit.
    # shellcheck disable=SC2086 # DOCKERD_ARGS is a list of arguments
    setsid nohup dockerd $DOCKERD_ARGS >/tmp/dockerd.log 2>&1 </dev/null 3>&- &
    for _ in $(seq 1 60); do
        "$DOCKER" info >/dev/null 2>&1 && break
        sleep 1
    done
    "$DOCKER" info >/dev/null 2>&1 || { tail -n 20 /tmp/dockerd.log; die "dockerd did not answer within 60 s"; }
fi
export DOCKER_BUILDKIT=1
log "docker: client $DOCKER $("$DOCKER" version --format '{{.Client.Version}}')," \
    "daemon $("$DOCKER" version --format '{{.Server.Version}}')"

# --- 2. the local base image (cached by tag) -----------------------------------------------
if "$DOCKER" image inspect "$BASE_TAG" >/dev/null 2>&1; then
    log "base image $BASE_TAG exists (delete it to rebuild: $DOCKER rmi $BASE_TAG)"
else
    command -v debootstrap >/dev/null 2>&1 || apt_install debootstrap
    rootfs=$workdir/rootfs
    log "making $BASE_TAG: debootstrap --variant=minbase bookworm from $DEBIAN_MIRROR (at most 15 minutes)"
    # ca-certificates: the server's TLS clients (PostgreSQL, Redis, HTTP targets) check peers
    # against the system roots, as in distroless/cc.
    timeout 900 debootstrap --variant=minbase --include=ca-certificates bookworm "$rootfs" \
        "$DEBIAN_MIRROR" >"$workdir/debootstrap.log" 2>&1 || {
        tail -n 20 "$workdir/debootstrap.log"
        die "debootstrap failed"
    }
    # The user distroless's :nonroot images run as; the Dockerfile says USER 65532:65532.
    if ! chroot "$rootfs" getent passwd 65532 >/dev/null; then
        chroot "$rootfs" groupadd --gid 65532 nonroot
        chroot "$rootfs" useradd -K UID_MAX=65534 --uid 65532 --gid 65532 --create-home \
            --home-dir /home/nonroot --shell /usr/sbin/nologin nonroot
    fi
    # A runtime base: no package caches, indexes, manuals or translations.
    rm -rf "${rootfs:?}"/var/cache/apt/* "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/log/* \
        "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* \
        "$rootfs"/usr/share/locale/*
    tar -C "$rootfs" --numeric-owner -c . |
        "$DOCKER" import --change 'CMD ["/bin/bash"]' \
            --message "debootstrap --variant=minbase --include=ca-certificates bookworm" \
            - "$BASE_TAG" >/dev/null
    rm -rf --one-file-system "$rootfs"
    log "base image $BASE_TAG made ($(( $("$DOCKER" image inspect -f '{{.Size}}' "$BASE_TAG") / 1000000 )) MB)"
fi

# --- 3. the server image -------------------------------------------------------------------
if [ -z "${SERVER_BIN:-}" ]; then
    release=target/release/scheduler-server debug=target/debug/scheduler-server
    if [ -x "$release" ] && { [ ! -e "$debug" ] || [ "$release" -nt "$debug" ]; }; then
        SERVER_BIN=$release
    else
        SERVER_BIN=$debug
        if [ ! -x "$SERVER_BIN" ]; then
            log "no binary yet: cargo build -p scheduler-server"
            cargo build -p scheduler-server
        fi
    fi
fi
[ -x "$SERVER_BIN" ] || die "$SERVER_BIN is not an executable (set SERVER_BIN)"
log "binary: $SERVER_BIN ($(date -r "$SERVER_BIN" '+%F %T'), $(( $(stat -c %s "$SERVER_BIN") / 1000000 )) MB)"

# The build context is only what the prebuilt stage copies: the stripped binary.
context=$workdir/context
mkdir -p "$context"
strip --strip-unneeded -o "$context/scheduler-server" "$SERVER_BIN"
log "stripped copy: $(( $(stat -c %s "$context/scheduler-server") / 1000000 )) MB"

log "docker build -f docker/Dockerfile --build-arg RUNTIME_IMAGE=$BASE_TAG" \
    "--build-arg BINARY_FROM=prebuilt -t $IMAGE_TAG CONTEXT"
previous=$("$DOCKER" image inspect -f '{{.Id}}' "$IMAGE_TAG" 2>/dev/null || true)
"$DOCKER" build --progress=plain -f docker/Dockerfile \
    --build-arg RUNTIME_IMAGE="$BASE_TAG" \
    --build-arg BINARY_FROM=prebuilt \
    -t "$IMAGE_TAG" "$context"
# The image this one replaced (another binary) would stay behind untagged: remove it, unless a
# container or another tag still uses it.
if [ -n "$previous" ] && [ "$previous" != "$("$DOCKER" image inspect -f '{{.Id}}' "$IMAGE_TAG")" ]; then
    if "$DOCKER" rmi "$previous" >/dev/null 2>&1; then log "removed the previous image $previous"; fi
fi
size=$("$DOCKER" image inspect -f '{{.Size}}' "$IMAGE_TAG")
log "built $IMAGE_TAG ($(( size / 1000000 )) MB) in $(( SECONDS - started )) s"

echo "$IMAGE_TAG" >&3
