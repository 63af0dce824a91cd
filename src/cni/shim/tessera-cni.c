/*
 * tessera-cni: the executable container runtimes run. It forwards the invocation (CNI_* variables
 * and the config on stdin) to the node agent's CNI server on the unix socket named by the config's
 * "agent_socket", and prints the reply. Without a reachable agent it execs the pure TypeScript
 * plugin with the same stdin, so the plugin works with no agent at all.
 *
 * Why C: a Node start costs 65-90 ms; a CNI ADD must cost ~15 ms. Keep this file dumb: all logic
 * lives in TypeScript (src/cni/server.ts has the wire format).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#ifndef TESSERA_NODE
#define TESSERA_NODE "node"
#endif
#ifndef TESSERA_CNI_JS
#define TESSERA_CNI_JS "/usr/lib/tessera/dist/src/cni/main.js"
#endif

extern char **environ;

static char *buf;
static size_t len, cap;

static void append(int fd) {
  for (;;) {
    if (cap - len < 65536) {
      cap = cap ? cap * 2 : 131072;
      buf = realloc(buf, cap);
      if (!buf) exit(100);
    }
    ssize_t n = read(fd, buf + len, cap - len - 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    len += (size_t)n;
  }
  buf[len] = 0;
}

static int write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

/* Finds "agent_socket": "<path>" in the config; paths never contain quotes or escapes. */
static int agent_socket(char *out, size_t outlen) {
  const char *p = strstr(buf, "\"agent_socket\"");
  if (!p) return -1;
  p += strlen("\"agent_socket\"");
  while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
  if (*p++ != ':') return -1;
  while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
  if (*p++ != '"') return -1;
  const char *end = strchr(p, '"');
  if (!end || end == p || (size_t)(end - p) >= outlen) return -1;
  memcpy(out, p, (size_t)(end - p));
  out[end - p] = 0;
  return 0;
}

static void fallback(void) {
  const char *js = getenv("TESSERA_CNI_JS");
  if (!js || !*js) js = TESSERA_CNI_JS;
  int fd = memfd_create("tessera-cni-stdin", 0);
  if (fd < 0 || write_all(fd, buf, len) < 0 || lseek(fd, 0, SEEK_SET) < 0 || dup2(fd, 0) < 0) {
    perror("tessera-cni: cannot pass stdin to the TypeScript plugin");
    exit(100);
  }
  close(fd);
  execl(TESSERA_NODE, "node", js, (char *)NULL);
  execlp("node", "node", js, (char *)NULL);
  perror("tessera-cni: cannot exec node");
  exit(100);
}

int main(void) {
  append(0);
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  if (agent_socket(sa.sun_path, sizeof sa.sun_path) < 0) fallback();
  int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof sa) < 0) fallback();

  for (char **e = environ; *e; e++) {
    if (strncmp(*e, "CNI_", 4) == 0 && write_all(s, *e, strlen(*e) + 1) < 0) goto lost;
  }
  if (write_all(s, "", 1) < 0 || write_all(s, buf, len) < 0) goto lost;
  shutdown(s, SHUT_WR);

  /* Once the request is sent the agent may have acted: never fall back (that could run it twice). */
  len = 0;
  append(s);
  char *nl = memchr(buf, '\n', len);
  if (!nl) goto lost;
  *nl = 0;
  int code = atoi(buf);
  size_t off = (size_t)(nl + 1 - buf);
  if (write_all(1, buf + off, len - off) < 0) return 100;
  return code;

lost:
  printf("{\"cniVersion\":\"1.0.0\",\"code\":11,\"msg\":\"lost the connection to the tessera agent at %s; try again later\"}\n",
         sa.sun_path);
  return 1;
}
