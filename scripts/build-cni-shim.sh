#!/usr/bin/env bash
# Compiles the tessera-cni C shim into bin/tessera-cni (run after build-bin.sh, which would
# otherwise leave a Node launcher there). The shim execs node + dist/src/cni/main.js when no agent
# socket answers, so both paths are baked in as absolute paths.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bin
node_bin=$(command -v node)
js="$PWD/dist/src/cni/main.js"
cc -O2 -Wall -Wextra -Werror -DTESSERA_NODE="\"$node_bin\"" -DTESSERA_CNI_JS="\"$js\"" \
  -o bin/tessera-cni.tmp src/cni/shim/tessera-cni.c
mv bin/tessera-cni.tmp bin/tessera-cni
# The CNI server's pod-side wiring helper (setns + rtnetlink; no `ip` process per ADD).
cc -O2 -Wall -Wextra -Werror -o bin/tessera-netns.tmp src/cni/shim/tessera-netns.c
mv bin/tessera-netns.tmp bin/tessera-netns
