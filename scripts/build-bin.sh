#!/usr/bin/env bash
# Writes the launchers in bin/ (the CLI, the agent, the CNI and IPAM plugins) after `tsc`.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bin
launcher() { # name module
  cat > "bin/$1" <<EOS
#!/usr/bin/env node
import('../dist/src/$2').catch((err) => { console.error(err); process.exit(1); });
EOS
  chmod +x "bin/$1"
}
# The CLI runs from one bundled file with a V8 code cache (start-up time; scripts/bundle.mjs).
node scripts/bundle.mjs
[ -f dist/src/agent/main.js ] && launcher tessera-node agent/main.js
[ -f dist/src/cni/main.js ] && launcher tessera-cni cni/main.js
[ -f dist/src/cni/ipam-main.js ] && launcher tessera-ipam cni/ipam-main.js
[ -f dist/src/controllers/main.js ] && launcher tessera-kube-controllers controllers/main.js
# The CNI executable is a small C shim (fast path through the agent's socket; falls back to the
# TypeScript plugin when no agent answers).
[ -f src/cni/shim/tessera-cni.c ] && scripts/build-cni-shim.sh
# The agent programs nftables through a long-lived libnftables helper (src/dataplane/nft/session.ts).
[ -f src/dataplane/nft/helper/tessera-nft.c ] && scripts/build-nft-helper.sh
exit 0
