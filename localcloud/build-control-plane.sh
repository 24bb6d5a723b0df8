#!/usr/bin/env bash
# Builds, once, the real Kubernetes control plane the local cloud runs: kube-apiserver and
# kube-controller-manager v1.20.2 from Debian bookworm's `kubernetes` source package (the only
# kube-apiserver our registries carry), plus Debian's etcd-server 3.4.
#
# Everything lands in a cache directory outside the repository and nothing is installed system
# wide: packages are unpacked with dpkg-deb into the cache, apt runs with private lists.
# Each step leaves a stamp, so a re-run skips what is done and an interrupted run resumes.
#
#   EKS_WINDOWS_NODES_CACHE   cache root (default: ~/.cache/eks-windows-nodes)
#
# Prints the directory holding the binaries (bin/) on its last line.
set -euo pipefail

CACHE="${EKS_WINDOWS_NODES_CACHE:-$HOME/.cache/eks-windows-nodes}"
ROOT="$CACHE/control-plane-v1.20.2"
BIN="$ROOT/bin"
APT="$ROOT/apt"
PREFIX="$ROOT/prefix"
SRC="$ROOT/src"
K8S_VERSION=v1.20.2

step() { printf '[control-plane] %s\n' "$*" >&2; }
die() { printf '[control-plane] error: %s\n' "$*" >&2; exit 1; }

if [ -x "$BIN/kube-apiserver" ] && [ -x "$BIN/kube-controller-manager" ] && [ -x "$BIN/etcd" ]; then
    echo "$ROOT"
    exit 0
fi

command -v apt-get >/dev/null || die "apt-get not found: the build needs a Debian machine"
command -v dpkg-deb >/dev/null || die "dpkg-deb not found"
command -v dpkg-source >/dev/null || die "dpkg-source not found (Debian package dpkg-dev)"
mkdir -p "$BIN" "$APT/lists/partial" "$APT/archives/partial" "$APT/cache" "$PREFIX" "$SRC"

# Private apt configuration: bookworm binaries and sources, without touching /etc/apt.
cat >"$APT/sources.list" <<LIST
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm main
deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm main
LIST
apt_opts=(-o "Dir::Etc::SourceList=$APT/sources.list" -o "Dir::Etc::SourceParts=/dev/null"
          -o "Dir::State::Lists=$APT/lists" -o "Dir::Cache=$APT/cache"
          -o "Dir::Cache::Archives=$APT/archives" -o "Debug::NoLocking=1" -o "APT::Sandbox::User=root")

if [ ! -f "$APT/.updated" ]; then
    step "1/5 reading Debian bookworm package lists"
    apt-get "${apt_opts[@]}" -q update >&2 \
        || die "could not reach Debian's package registry (apt-get update failed)"
    touch "$APT/.updated"
fi

if [ ! -f "$PREFIX/.unpacked" ]; then
    step "2/5 downloading and unpacking golang-1.19, rsync, etcd-server 3.4 into $PREFIX"
    mkdir -p "$ROOT/debs"
    (cd "$ROOT/debs" && apt-get "${apt_opts[@]}" -q download \
        golang-1.19-go golang-1.19-src rsync libpopt0 etcd-server >&2) \
        || die "could not download packages from Debian's registry"
    for deb in "$ROOT"/debs/*.deb; do dpkg-deb -x "$deb" "$PREFIX"; done
    touch "$PREFIX/.unpacked"
fi
cp -f "$PREFIX/usr/bin/etcd" "$BIN/etcd"

TREE="$SRC/kubernetes"
if [ ! -f "$SRC/.unpacked" ]; then
    step "3/5 downloading the kubernetes source package (34 MB, full tree with vendor/)"
    rm -rf "$SRC" && mkdir -p "$SRC"
    (cd "$SRC" && apt-get "${apt_opts[@]}" -q source --download-only kubernetes >&2) \
        || die "could not download the kubernetes source package"
    (cd "$SRC" && dpkg-source --no-check -x ./*.dsc kubernetes >/dev/null) \
        || die "could not unpack the kubernetes source package"
    touch "$SRC/.unpacked"
fi

GOROOT="$PREFIX/usr/lib/go-1.19"
[ -x "$GOROOT/bin/go" ] || die "Go toolchain missing at $GOROOT"
export GOROOT GOPATH="$ROOT/gopath" GOCACHE="$ROOT/gocache" GOFLAGS=-mod=vendor GO111MODULE=on
export PATH="$GOROOT/bin:$PREFIX/usr/bin:$PATH"
export LD_LIBRARY_PATH="$PREFIX/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export CGO_ENABLED=0 KUBE_GIT_VERSION="$K8S_VERSION" KUBE_GIT_TREE_STATE=clean KUBE_GIT_MAJOR=1 KUBE_GIT_MINOR=20
mkdir -p "$GOPATH/src/k8s.io"
ln -sfn "$TREE" "$GOPATH/src/k8s.io/kubernetes"

step "4/5 compiling kube-apiserver and kube-controller-manager (about 8-10 minutes on 2 cores)"
start=$(date +%s)
(
    cd "$GOPATH/src/k8s.io/kubernetes"
    make WHAT="cmd/kube-apiserver cmd/kube-controller-manager" >&2
) &
build=$!
while kill -0 "$build" 2>/dev/null; do
    sleep 30
    kill -0 "$build" 2>/dev/null && step "    still compiling ($(( $(date +%s) - start ))s elapsed)"
done
wait "$build" || die "compilation failed (see the output above)"

step "5/5 installing binaries into $BIN"
out="$TREE/_output/local/bin/linux/amd64"
[ -x "$out/kube-apiserver" ] || out="$TREE/_output/bin"
install -m 0755 "$out/kube-apiserver" "$out/kube-controller-manager" "$BIN/"
# The tree, the Go cache and the toolchain are 3 GB that are no longer needed.
rm -rf "$TREE" "$GOPATH" "$GOCACHE" "$SRC" "$PREFIX/usr/lib/go-1.19" "$PREFIX/usr/share/go-1.19"
step "done in $(( $(date +%s) - start ))s"
echo "$ROOT"
