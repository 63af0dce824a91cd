/*
 * tessera-netns: a long-lived helper that applies the pod side of a CNI ADD (src/cni/wiring-render.ts
 * renderPodSetup) inside the pod's network namespace with setns(2) and rtnetlink, so the CNI server
 * starts no process per ADD (each `ip -n <netns>` start costs milliseconds, tens under load).
 *
 * It understands exactly the lines renderPodSetup writes, in iproute2's batch syntax:
 *   link set IF up
 *   addr add ADDR/LEN dev IF [nodad]
 *   neigh replace IP lladdr MAC dev IF nud permanent
 *   route add (default|DST[/LEN]) [via GW] dev IF [scope link]
 * and sends what `ip` sends for them (same flags, table main, protocol boot).
 *
 * Framing (stdin → stdout, answered in order):
 *   request: "<id> <netns name>\n", then the script's lines, then one empty line
 *   reply:   "<id> 0\n" on success; "<id> 1 <message>\n" when a line failed (the lines after it
 *            are not run, as `ip -batch` without -force); "<id> 2 <message>\n" when the script has
 *            a line this helper does not understand (nothing was run: the caller uses `ip`).
 * The helper returns to its own netns after every request, and exits if it cannot.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_LINES 64
#define MAX_TOK 16

enum op { OP_UP, OP_ADDR, OP_NEIGH, OP_ROUTE };

struct line {
  enum op op;
  char ifname[IF_NAMESIZE];
  int family;
  unsigned char addr[16]; /* addr / neigh ip / route dst */
  int plen;
  int nodad;
  int has_gw;
  unsigned char gw[16];
  unsigned char mac[6];
  int scope_link;
  char text[256];
};

static struct line lines[MAX_LINES];
static int nlines;
static char err[512];

static int parse_ip(const char *s, int *family, unsigned char *out) {
  if (inet_pton(AF_INET, s, out) == 1) {
    *family = AF_INET;
    return 0;
  }
  if (inet_pton(AF_INET6, s, out) == 1) {
    *family = AF_INET6;
    return 0;
  }
  return -1;
}

/* "A/LEN" or "A" (full length). */
static int parse_prefix(const char *s, int *family, unsigned char *out, int *plen) {
  char tmp[64];
  if (strlen(s) >= sizeof tmp) return -1;
  strcpy(tmp, s);
  char *slash = strchr(tmp, '/');
  if (slash) *slash = 0;
  if (parse_ip(tmp, family, out) < 0) return -1;
  int max = *family == AF_INET ? 32 : 128;
  if (!slash) {
    *plen = max;
    return 0;
  }
  char *end;
  long n = strtol(slash + 1, &end, 10);
  if (*end || end == slash + 1 || n < 0 || n > max) return -1;
  *plen = (int)n;
  return 0;
}

static int set_if(struct line *l, const char *name) {
  if (strlen(name) >= IF_NAMESIZE) return -1;
  strcpy(l->ifname, name);
  return 0;
}

/* Parses one script line into l; -1 when it is not one of the forms above. */
static int parse_line(char *text, struct line *l) {
  memset(l, 0, sizeof *l);
  snprintf(l->text, sizeof l->text, "%s", text);
  char *tok[MAX_TOK];
  int n = 0;
  for (char *save = NULL, *t = strtok_r(text, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
    if (n == MAX_TOK) return -1;
    tok[n++] = t;
  }
  if (n == 4 && !strcmp(tok[0], "link") && !strcmp(tok[1], "set") && !strcmp(tok[3], "up")) {
    l->op = OP_UP;
    return set_if(l, tok[2]);
  }
  if ((n == 5 || n == 6) && !strcmp(tok[0], "addr") && !strcmp(tok[1], "add") && !strcmp(tok[3], "dev")) {
    if (n == 6 && strcmp(tok[5], "nodad")) return -1;
    l->op = OP_ADDR;
    l->nodad = n == 6;
    if (parse_prefix(tok[2], &l->family, l->addr, &l->plen) < 0) return -1;
    return set_if(l, tok[4]);
  }
  if (n == 9 && !strcmp(tok[0], "neigh") && !strcmp(tok[1], "replace") && !strcmp(tok[3], "lladdr") &&
      !strcmp(tok[5], "dev") && !strcmp(tok[7], "nud") && !strcmp(tok[8], "permanent")) {
    l->op = OP_NEIGH;
    if (parse_ip(tok[2], &l->family, l->addr) < 0) return -1;
    unsigned int m[6];
    char extra;
    if (sscanf(tok[4], "%2x:%2x:%2x:%2x:%2x:%2x%c", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5], &extra) != 6)
      return -1;
    for (int i = 0; i < 6; i++) l->mac[i] = (unsigned char)m[i];
    return set_if(l, tok[6]);
  }
  if (n >= 5 && !strcmp(tok[0], "route") && !strcmp(tok[1], "add")) {
    l->op = OP_ROUTE;
    int i = 3;
    int dst_default = !strcmp(tok[2], "default");
    if (!dst_default && parse_prefix(tok[2], &l->family, l->addr, &l->plen) < 0) return -1;
    if (i + 1 < n && !strcmp(tok[i], "via")) {
      int gwfam;
      if (parse_ip(tok[i + 1], &gwfam, l->gw) < 0) return -1;
      if (dst_default) l->family = gwfam;
      if (gwfam != l->family) return -1;
      l->has_gw = 1;
      i += 2;
    } else if (dst_default) {
      return -1;
    }
    if (i + 1 >= n || strcmp(tok[i], "dev")) return -1;
    if (set_if(l, tok[i + 1]) < 0) return -1;
    i += 2;
    if (i + 1 < n && !strcmp(tok[i], "scope") && !strcmp(tok[i + 1], "link")) {
      l->scope_link = 1;
      i += 2;
    }
    return i == n ? 0 : -1;
  }
  return -1;
}

struct req {
  struct nlmsghdr n;
  char buf[512];
};

static void addattr(struct nlmsghdr *n, int type, const void *data, int len) {
  struct rtattr *rta = (struct rtattr *)((char *)n + NLMSG_ALIGN(n->nlmsg_len));
  rta->rta_type = (unsigned short)type;
  rta->rta_len = (unsigned short)RTA_LENGTH(len);
  memcpy(RTA_DATA(rta), data, (size_t)len);
  n->nlmsg_len = NLMSG_ALIGN(n->nlmsg_len) + RTA_ALIGN(rta->rta_len);
}

static unsigned int seq;

/* Sends one request and waits for its ack; returns 0 or a positive errno. */
static int talk(int fd, struct nlmsghdr *n) {
  n->nlmsg_seq = ++seq;
  n->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
  if (send(fd, n, n->nlmsg_len, 0) < 0) return errno;
  char buf[8192];
  for (;;) {
    ssize_t got = recv(fd, buf, sizeof buf, 0);
    if (got < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (unsigned int)got); h = NLMSG_NEXT(h, got)) {
      if (h->nlmsg_seq != seq || h->nlmsg_type != NLMSG_ERROR) continue;
      struct nlmsgerr *e = NLMSG_DATA(h);
      return -e->error;
    }
  }
}

static int run_line(int fd, const struct line *l) {
  unsigned int ifindex = if_nametoindex(l->ifname);
  if (!ifindex) {
    snprintf(err, sizeof err, "Cannot find device \"%s\" (line \"%s\")", l->ifname, l->text);
    return -1;
  }
  struct req r;
  memset(&r, 0, sizeof r);
  int alen = l->family == AF_INET ? 4 : 16;
  switch (l->op) {
    case OP_UP: {
      struct ifinfomsg *i = NLMSG_DATA(&r.n);
      r.n.nlmsg_len = NLMSG_LENGTH(sizeof *i);
      r.n.nlmsg_type = RTM_NEWLINK;
      i->ifi_family = AF_UNSPEC;
      i->ifi_index = (int)ifindex;
      i->ifi_flags = IFF_UP;
      i->ifi_change = IFF_UP;
      break;
    }
    case OP_ADDR: {
      struct ifaddrmsg *a = NLMSG_DATA(&r.n);
      r.n.nlmsg_len = NLMSG_LENGTH(sizeof *a);
      r.n.nlmsg_type = RTM_NEWADDR;
      r.n.nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
      a->ifa_family = (unsigned char)l->family;
      a->ifa_prefixlen = (unsigned char)l->plen;
      a->ifa_flags = l->nodad ? IFA_F_NODAD : 0;
      a->ifa_scope = RT_SCOPE_UNIVERSE;
      a->ifa_index = ifindex;
      addattr(&r.n, IFA_LOCAL, l->addr, alen);
      addattr(&r.n, IFA_ADDRESS, l->addr, alen);
      break;
    }
    case OP_NEIGH: {
      struct ndmsg *nd = NLMSG_DATA(&r.n);
      r.n.nlmsg_len = NLMSG_LENGTH(sizeof *nd);
      r.n.nlmsg_type = RTM_NEWNEIGH;
      r.n.nlmsg_flags = NLM_F_CREATE | NLM_F_REPLACE;
      nd->ndm_family = (unsigned char)l->family;
      nd->ndm_ifindex = (int)ifindex;
      nd->ndm_state = NUD_PERMANENT;
      addattr(&r.n, NDA_DST, l->addr, alen);
      addattr(&r.n, NDA_LLADDR, l->mac, 6);
      break;
    }
    case OP_ROUTE: {
      struct rtmsg *rt = NLMSG_DATA(&r.n);
      r.n.nlmsg_len = NLMSG_LENGTH(sizeof *rt);
      r.n.nlmsg_type = RTM_NEWROUTE;
      r.n.nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
      rt->rtm_family = (unsigned char)l->family;
      rt->rtm_dst_len = (unsigned char)l->plen;
      rt->rtm_table = RT_TABLE_MAIN;
      rt->rtm_protocol = RTPROT_BOOT;
      rt->rtm_scope = l->scope_link ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE;
      rt->rtm_type = RTN_UNICAST;
      if (l->plen > 0) addattr(&r.n, RTA_DST, l->addr, alen);
      if (l->has_gw) addattr(&r.n, RTA_GATEWAY, l->gw, alen);
      addattr(&r.n, RTA_OIF, &ifindex, 4);
      break;
    }
  }
  int e = talk(fd, &r.n);
  if (e) {
    snprintf(err, sizeof err, "RTNETLINK answers: %s (line \"%s\")", strerror(e), l->text);
    return -1;
  }
  return 0;
}

static int home_fd;

/* Runs the parsed lines inside netns `name`; 0, or -1 with err set. */
static int apply(const char *name) {
  char path[300];
  snprintf(path, sizeof path, "/var/run/netns/%s", name);
  int ns = open(path, O_RDONLY | O_CLOEXEC);
  if (ns < 0) {
    snprintf(err, sizeof err, "Cannot open network namespace \"%s\": %s", name, strerror(errno));
    return -1;
  }
  if (setns(ns, CLONE_NEWNET) < 0) {
    snprintf(err, sizeof err, "setting the network namespace \"%s\" failed: %s", name, strerror(errno));
    close(ns);
    return -1;
  }
  close(ns);
  int rc = 0;
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) {
    snprintf(err, sizeof err, "Cannot open netlink socket: %s", strerror(errno));
    rc = -1;
  }
  for (int i = 0; rc == 0 && i < nlines; i++) rc = run_line(fd, &lines[i]);
  if (fd >= 0) close(fd);
  if (setns(home_fd, CLONE_NEWNET) < 0) {
    fprintf(stderr, "tessera-netns: cannot return to its own netns: %s\n", strerror(errno));
    exit(1);
  }
  return rc;
}

/* Names `ip -n` accepts that are plain path components (the caller validates them too). */
static int safe_name(const char *s) {
  if (!*s || !strcmp(s, ".") || !strcmp(s, "..")) return 0;
  for (; *s; s++)
    if (*s == '/') return 0;
  return 1;
}

int main(void) {
  home_fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  if (home_fd < 0) {
    perror("tessera-netns: cannot open its own netns");
    return 1;
  }
  char *buf = NULL;
  size_t cap = 0;
  for (;;) {
    ssize_t got = getline(&buf, &cap, stdin);
    if (got < 0) return 0;
    if (got > 0 && buf[got - 1] == '\n') buf[got - 1] = 0;
    char name[256];
    unsigned long id;
    char extra;
    if (sscanf(buf, "%lu %255s %c", &id, name, &extra) != 2) {
      fprintf(stderr, "tessera-netns: bad request line \"%s\"\n", buf);
      return 1;
    }
    nlines = 0;
    int unsupported = 0;
    for (;;) {
      got = getline(&buf, &cap, stdin);
      if (got < 0) return 0;
      if (got > 0 && buf[got - 1] == '\n') buf[got - 1] = 0;
      if (!*buf) break;
      if (unsupported) continue;
      if (nlines == MAX_LINES) {
        snprintf(err, sizeof err, "more than %d lines", MAX_LINES);
        unsupported = 1;
        continue;
      }
      if (parse_line(buf, &lines[nlines]) < 0) {
        snprintf(err, sizeof err, "unsupported line \"%s\"", lines[nlines].text);
        unsupported = 1;
        continue;
      }
      nlines++;
    }
    if (unsupported)
      printf("%lu 2 %s\n", id, err);
    else if (!safe_name(name))
      printf("%lu 1 bad netns name \"%s\"\n", id, name);
    else if (apply(name) < 0)
      printf("%lu 1 %s\n", id, err);
    else
      printf("%lu 0\n", id);
    fflush(stdout);
  }
}
