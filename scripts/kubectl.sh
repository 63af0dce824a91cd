#!/usr/bin/env bash
# Prints the path of the kubectl Tessera uses: Debian's `kubernetes-client` (1.20), unpacked into a
# cache outside the repo. `apt-get install kubernetes-client` is not used on purpose: on machine
# images that carry google-cloud-cli's kubectl at /usr/bin/kubectl the two packages conflict on
# that file, so the .deb is fetched with `apt-get download` and unpacked with `dpkg -x` instead,
# which works the same on a fresh Debian 12 and on those images.
#   scripts/kubectl.sh            -> installs when missing, prints the binary's path
#   KUBECTL_CACHE=DIR overrides the cache (default /var/cache/tessera/kubernetes-client)
set -euo pipefail
cache="${KUBECTL_CACHE:-/var/cache/tessera/kubernetes-client}"
bin="$cache/root/usr/bin/kubectl"
if [[ -x "$bin" ]]; then echo "$bin"; exit 0; fi
mkdir -p "$cache"
tmp=$(mktemp -d "$cache/dl.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
deb=""
# A .deb already downloaded (by an earlier run, or left by hand) saves the network round trip.
for d in "$cache"/kubernetes-client_*.deb; do [[ -f "$d" ]] && deb="$d"; done
if [[ -z "$deb" ]]; then
  (cd "$tmp" && { apt-get download -q kubernetes-client >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get download -q kubernetes-client >/dev/null; }; })
  for d in "$tmp"/kubernetes-client_*.deb; do [[ -f "$d" ]] && deb="$d"; done
  [[ -n "$deb" ]] || { echo "kubectl.sh: apt-get download kubernetes-client produced no .deb" >&2; exit 1; }
  mv "$deb" "$cache/" && deb="$cache/$(basename "$deb")"
fi
rm -rf "$tmp/root" && dpkg -x "$deb" "$tmp/root"
[[ -x "$tmp/root/usr/bin/kubectl" ]] || { echo "kubectl.sh: $deb has no usr/bin/kubectl" >&2; exit 1; }
rm -rf "$cache/root" && mv "$tmp/root" "$cache/root"
echo "$bin"
