#!/usr/bin/env bash
# `make image`: the podwarden image without a registry of base images (root, Debian).
#   1. a Debian bookworm root filesystem from Debian's packages (mmdebstrap, minbase):
#      python3 and the netfilter tools the agent drives (nftables, iptables, conntrack, procps);
#   2. the wheel set of the lock file (requirements.txt, hashes required; LOCK=FILE for
#      another, LOCK= to resolve pyproject's ranges instead), from which podwarden and only
#      its runtime dependencies are installed into the root filesystem's site-packages;
#   3. an OCI image layout and archive with umoci (entrypoint `podwarden`), and
#   4. a smoke run of the archive with podman (runc: crun refuses hybrid cgroup hosts).
# deploy/Containerfile stays the documented path for machines with a container engine.
# Usage: deploy/image/build.sh [OUT]  (default build/image; writes OUT/podwarden-oci.tar)
set -euo pipefail
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
OUT="$(mkdir -p "${1:-$REPO/build/image}" && cd "${1:-$REPO/build/image}" && pwd)"
PY="${PY:-$REPO/.venv/bin/python}"
SUITE=bookworm
MIRROR="${MIRROR:-http://deb.debian.org/debian}"
SECURITY="${SECURITY:-http://deb.debian.org/debian-security}"
PACKAGES=python3,nftables,iptables,conntrack,procps,ca-certificates
TAG=podwarden:$("$PY" -c 'import podwarden; print(podwarden.__version__)')
step() { printf '%s %s\n' "$(date +%T)" "$*" >&2; }

for tool in mmdebstrap umoci podman runc; do
  command -v "$tool" >/dev/null || { echo "make image: $tool missing (apt-get install mmdebstrap umoci podman runc)" >&2; exit 2; }
done

step "root filesystem ($SUITE: $PACKAGES)"
rm -rf "$OUT/rootfs" "$OUT/rootfs.tar" "$OUT/oci" "$OUT/bundle" "$OUT/wheels"
mmdebstrap --quiet --variant=minbase --include="$PACKAGES" "$SUITE" "$OUT/rootfs.tar" \
  "deb $MIRROR $SUITE main" "deb $SECURITY $SUITE-security main"
mkdir "$OUT/rootfs" && tar -xf "$OUT/rootfs.tar" -C "$OUT/rootfs"

step "wheels"
target_python=$(chroot "$OUT/rootfs" python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
build_python=$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
if [ "$target_python" != "$build_python" ]; then
  echo "make image: the image's python is $target_python, the build's $build_python: wheels would not match" >&2
  exit 2
fi
LOCK="${LOCK-$REPO/requirements.txt}"
if [ -n "$LOCK" ]; then
  "$PY" -m pip wheel -q --require-hashes --no-deps --wheel-dir "$OUT/wheels" -r "$LOCK"
  "$PY" -m pip wheel -q --no-deps --wheel-dir "$OUT/wheels" "$REPO"
else
  "$PY" -m pip wheel -q --wheel-dir "$OUT/wheels" "$REPO"
fi
"$PY" -m pip install -q --no-index --find-links "$OUT/wheels" --no-compile \
  --target "$OUT/rootfs/usr/local/lib/python$target_python/dist-packages" podwarden
printf '#!/usr/bin/python3\nimport sys\nfrom podwarden.cli import main\nsys.exit(main())\n' \
  > "$OUT/rootfs/usr/local/bin/podwarden"
chmod 0755 "$OUT/rootfs/usr/local/bin/podwarden"
chroot "$OUT/rootfs" podwarden --version >&2

step "OCI image (umoci)"
umoci init --layout "$OUT/oci"
umoci new --image "$OUT/oci:$TAG"
umoci unpack --image "$OUT/oci:$TAG" "$OUT/bundle" >/dev/null
tar -C "$OUT/rootfs" -cf - . | tar -C "$OUT/bundle/rootfs" -xf -
umoci repack --image "$OUT/oci:$TAG" "$OUT/bundle"
# Root, but the manifests drop every capability except NET_ADMIN and NET_RAW.
umoci config --image "$OUT/oci:$TAG" --author podwarden --os linux --architecture amd64 \
  --config.entrypoint podwarden --config.cmd --help --config.user 0:0 \
  --config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
umoci gc --layout "$OUT/oci"
tar -C "$OUT/oci" -cf "$OUT/podwarden-oci.tar" .
rm -rf "$OUT/bundle" "$OUT/rootfs.tar"

step "smoke run (podman)"
# vfs storage, cgroupfs and runc: what works inside a VM without systemd or overlay; limits
# no higher than the caller's (podman's defaults would raise them, which needs privileges).
podman_=(podman --root "$OUT/storage" --runroot "$OUT/run" --storage-driver vfs
         --cgroup-manager cgroupfs --events-backend file --runtime runc)
run=(run --rm --network none --ulimit "nofile=$(ulimit -n):$(ulimit -n)" --ulimit nproc=4096:4096)
"${podman_[@]}" load -q -i "$OUT/podwarden-oci.tar" >&2
"${podman_[@]}" "${run[@]}" "localhost/$TAG" --version
"${podman_[@]}" "${run[@]}" --entrypoint nft "localhost/$TAG" --version
set +e  # `podwarden check` in the image: a privileged pod is refused (exit 1)
printf 'apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c, image: i, securityContext: {privileged: true}}]\n' \
  | "${podman_[@]}" "${run[@]}" -i "localhost/$TAG" check --level baseline -
rc=$?
set -e
[ "$rc" = 1 ] || { echo "make image: check of a privileged pod exited $rc, expected 1" >&2; exit 1; }
"${podman_[@]}" rmi -f "localhost/$TAG" >/dev/null
rm -rf "$OUT/storage" "$OUT/run"
step "done: $OUT/podwarden-oci.tar ($(du -h "$OUT/podwarden-oci.tar" | cut -f1))"
