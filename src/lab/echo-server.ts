/**
 * The lab's echo servers, one process per port, in whatever netns the caller starts them in.
 * - TCP: socat accepts and forks a child per connection that echoes until the peer closes (~1 MB).
 * - UDP: one perl process (perl-base is Essential in Debian) that answers every datagram to its
 *   sender from a single socket, with no child per packet. socat's `UDP-RECVFROM,fork` forked a
 *   child per datagram; under load some of those servers stopped answering for good (a 30-pod
 *   matrix lost every UDP probe to a few pods), and each child lingered for the -T timeout.
 * - SCTP (kernels with SCTP sockets, e.g. the lab VM's): one perl process that accepts every
 *   association and closes it again (a probe only needs the four-way handshake to complete).
 * All bind `[::]` with IPV6_V6ONLY off, so one socket serves IPv4 and IPv6.
 */
export type EchoProtocol = 'TCP' | 'UDP' | 'SCTP';

const UDP_ECHO = [
  'use Socket qw(AF_INET6 SOCK_DGRAM SOL_SOCKET SO_REUSEADDR IPPROTO_IPV6 IPV6_V6ONLY pack_sockaddr_in6 IN6ADDR_ANY);',
  'my $p = $ARGV[0];',
  'socket(my $s, AF_INET6, SOCK_DGRAM, 0) or die "udp echo: socket: $!\\n";',
  'setsockopt($s, SOL_SOCKET, SO_REUSEADDR, 1) or die "udp echo: SO_REUSEADDR: $!\\n";',
  'setsockopt($s, IPPROTO_IPV6, IPV6_V6ONLY, 0) or die "udp echo: IPV6_V6ONLY: $!\\n";',
  'bind($s, pack_sockaddr_in6($p, IN6ADDR_ANY)) or die "udp echo: bind port $p: $!\\n";',
  'while (1) { my $peer = recv($s, my $buf, 65535, 0); send($s, $buf, 0, $peer) if defined $peer && length $peer; }',
].join(' ');

const SCTP_ACCEPT = [
  'use Socket qw(AF_INET6 SOCK_STREAM SOL_SOCKET SO_REUSEADDR IPPROTO_IPV6 IPV6_V6ONLY pack_sockaddr_in6 IN6ADDR_ANY);',
  'my $p = $ARGV[0];',
  'socket(my $s, AF_INET6, SOCK_STREAM, 132) or die "sctp server: socket: $!\\n";',
  'setsockopt($s, SOL_SOCKET, SO_REUSEADDR, 1) or die "sctp server: SO_REUSEADDR: $!\\n";',
  'setsockopt($s, IPPROTO_IPV6, IPV6_V6ONLY, 0) or die "sctp server: IPV6_V6ONLY: $!\\n";',
  'bind($s, pack_sockaddr_in6($p, IN6ADDR_ANY)) or die "sctp server: bind port $p: $!\\n";',
  'listen($s, 128) or die "sctp server: listen: $!\\n";',
  'while (1) { accept(my $c, $s) and close($c); }',
].join(' ');

/** The argv of an echo server for `protocol`/`port` (a long-running process; stop it with a signal). */
export function echoServerArgv(protocol: EchoProtocol, port: number): string[] {
  if (protocol === 'TCP') return ['socat', '-T', '5', `TCP6-LISTEN:${port},fork,reuseaddr,ipv6only=0`, 'PIPE'];
  return ['perl', '-e', protocol === 'UDP' ? UDP_ECHO : SCTP_ACCEPT, String(port)];
}
