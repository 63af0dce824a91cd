/*
 * tessera-nft: a long-lived libnftables server for the node agent (src/dataplane/nft/session.ts).
 *
 * Why: every `nft -f` process pays its start-up (~7 ms here) and, worse, a cold cache fetch of the
 * whole table (~15 ms for 1,000 policies / 10,000 set elements), and a large Node process pays a
 * fork of its address space per spawn. One context kept open reuses libnftables' cache: a
 * transaction that adds a pod costs ~3 ms instead of ~25 ms. libnftables re-checks the ruleset
 * generation before each command, so a table someone else edited is re-read, never trusted stale.
 *
 * Protocol (stdin -> stdout), one request at a time, in order:
 *   request:  "<mode> <length>\n" then <length> bytes of nft script; mode t = text output,
 *             j = JSON output (as `nft -j`).
 *   response: "<status> <outlen> <errlen>\n" then <outlen> bytes of output and <errlen> bytes of
 *             error text; status 0 = success, 1 = nft rejected the script (nothing was applied:
 *             a script is one transaction).
 * A malformed request ends the process with exit 2 (the caller restarts it); EOF ends it with 0.
 */
#include <nftables/libnftables.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SCRIPT (1024UL * 1024UL * 1024UL)

static int reply(int status, const char *out, const char *err) {
  size_t olen = out ? strlen(out) : 0, elen = err ? strlen(err) : 0;
  if (printf("%d %zu %zu\n", status, olen, elen) < 0) return -1;
  if (olen && fwrite(out, 1, olen, stdout) != olen) return -1;
  if (elen && fwrite(err, 1, elen, stdout) != elen) return -1;
  return fflush(stdout);
}

int main(void) {
  struct nft_ctx *ctx = nft_ctx_new(NFT_CTX_DEFAULT);
  if (!ctx || nft_ctx_buffer_output(ctx) || nft_ctx_buffer_error(ctx)) {
    fprintf(stderr, "tessera-nft: cannot create an nftables context\n");
    return 1;
  }
  const unsigned int base_flags = nft_ctx_output_get_flags(ctx);
  char header[64];
  while (fgets(header, sizeof header, stdin)) {
    char mode = 0;
    unsigned long len = 0;
    if (sscanf(header, "%c %lu", &mode, &len) != 2 || (mode != 't' && mode != 'j') || len > MAX_SCRIPT) {
      fprintf(stderr, "tessera-nft: malformed request header\n");
      return 2;
    }
    char *script = malloc(len + 1);
    if (!script) {
      fprintf(stderr, "tessera-nft: out of memory for a %lu-byte script\n", len);
      return 1;
    }
    if (len && fread(script, 1, len, stdin) != len) {
      free(script);
      fprintf(stderr, "tessera-nft: truncated request\n");
      return 2;
    }
    script[len] = '\0';
    nft_ctx_output_set_flags(ctx, mode == 'j' ? (base_flags | NFT_CTX_OUTPUT_JSON) : base_flags);
    int rc = nft_run_cmd_from_buffer(ctx, script);
    free(script);
    if (reply(rc == 0 ? 0 : 1, nft_ctx_get_output_buffer(ctx), nft_ctx_get_error_buffer(ctx)) != 0) return 1;
  }
  nft_ctx_free(ctx);
  return 0;
}
