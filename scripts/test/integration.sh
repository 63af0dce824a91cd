#!/usr/bin/env bash
# `make integration`: every test/*.test.ts, as root.
# The host-kernel suites run one file at a time in the foreground. The VM-kernel suites
# (test/vm-*.test.ts: QEMU with TCG, CPU-bound for their whole run) start at the same time in the
# background at a lower CPU priority (nice 10), so they take the CPU the host suites leave idle
# instead of running after them. Their output is printed when the host suites are done (and is
# readable live in the log file named below). The exit code is non-zero if either part failed.
set -u
if [ "$(id -u)" != 0 ]; then echo "integration tests need root"; exit 1; fi
cd "$(dirname "$0")/../.."
host=()
vm=()
while IFS= read -r f; do
  case "$f" in test/vm-*) vm+=("$f") ;; *) host+=("$f") ;; esac
done < <(find test -name '*.test.ts' | sort)

vmpid=''
log=''
if [ ${#vm[@]} -gt 0 ] && [ "${TESSERA_VM_SERIAL:-0}" != 1 ]; then
  log=$(mktemp /tmp/tessera-vm-suites.XXXXXX.log)
  echo "# VM-kernel suites (${vm[*]}) run alongside at nice 10; output after the host suites (live: $log)"
  nice -n 10 node --import tsx --test --test-concurrency=1 "${vm[@]}" >"$log" 2>&1 &
  vmpid=$!
  trap '[ -n "$vmpid" ] && kill -TERM "$vmpid" 2>/dev/null; wait' INT TERM
  host_files=("${host[@]}")
else
  host_files=("${host[@]}" "${vm[@]}")
fi

node --import tsx --test --test-concurrency=1 "${host_files[@]}"
hrc=$?
vrc=0
if [ -n "$vmpid" ]; then
  echo "# host suites done (exit $hrc); waiting for the VM-kernel suites"
  wait "$vmpid"
  vrc=$?
  echo "# ---- VM-kernel suites (${vm[*]}) ----"
  cat "$log"
  rm -f "$log"
  echo "# VM-kernel suites exit $vrc"
fi
[ "$hrc" = 0 ] && [ "$vrc" = 0 ]
