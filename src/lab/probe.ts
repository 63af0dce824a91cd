/**
 * Connectivity probes from inside a pod's netns. One prober process per source pod probes all of
 * its targets concurrently (Node starts in ~80 ms; a process per pair would dominate a matrix).
 * TCP: connected = the handshake completed. UDP: connected = the pod server echoed our nonce back
 * (a connected UDP socket also surfaces ICMP port-unreachable as ECONNREFUSED, failing fast).
 * SCTP (kernels with SCTP sockets only): connected = the association's handshake completed; Node
 * has no SCTP sockets, so that prober is a small python3 program with the same job and output.
 */
import { labTimeoutMs } from './vm/timeouts.js';
import { run } from '../lib/exec.js';
import { TesseraError } from '../lib/errors.js';
import type { PortProtocol } from './plan.js';

export interface ProbeTarget {
  key: string;
  ip: string;
}

export interface ProbeResult {
  key: string;
  ip: string;
  connected: boolean;
  /** Why not: `timeout`, `ECONNREFUSED`, ... */
  error?: string;
  elapsedMs: number;
}

export interface ProbeSpec {
  port: number;
  protocol: PortProtocol;
  timeoutMs: number;
}

// CommonJS, run with `node -e`; argv[1] is the JSON job. Kept dependency-free and tiny.
const PROBER = String.raw`
const net = require('net'), dgram = require('dgram');
const job = JSON.parse(process.argv[1]);
const probe = (t) => new Promise((resolve) => {
  const t0 = Date.now();
  let done = false, timer, sock, resend;
  const finish = (connected, error) => {
    if (done) return; done = true;
    clearTimeout(timer); clearInterval(resend);
    try { sock.destroy ? sock.destroy() : sock.close(); } catch (e) {}
    resolve({ key: t.key, ip: t.ip, connected, error, elapsedMs: Date.now() - t0 });
  };
  timer = setTimeout(() => finish(false, 'timeout'), job.timeoutMs);
  if (job.protocol === 'TCP') {
    sock = net.connect({ host: t.ip, port: job.port });
    sock.on('connect', () => finish(true));
    sock.on('error', (e) => finish(false, e.code || String(e)));
  } else {
    const nonce = 'tessera-probe-' + process.pid + '-' + t.key;
    sock = dgram.createSocket(t.ip.includes(':') ? 'udp6' : 'udp4');
    sock.on('error', (e) => finish(false, e.code || String(e)));
    sock.on('message', (m) => { if (String(m) === nonce) finish(true); });
    sock.connect(job.port, t.ip, () => {
      const send = () => sock.send(nonce, (e) => { if (e) finish(false, e.code || String(e)); });
      send();
      resend = setInterval(send, Math.max(50, Math.floor(job.timeoutMs / 4)));
    });
  }
});
Promise.all(job.targets.map(probe)).then((r) => { process.stdout.write(JSON.stringify(r)); process.exit(0); });
`;

// python3, argv[1] is the same JSON job; non-blocking SCTP connects to every target at once.
const SCTP_PROBER = String.raw`
import errno, json, selectors, socket, sys, time
job = json.loads(sys.argv[1])
t0 = time.monotonic()
sel = selectors.DefaultSelector()
out = []
def done(t, err):
    r = {'key': t['key'], 'ip': t['ip'], 'connected': err is None, 'elapsedMs': round((time.monotonic() - t0) * 1000)}
    if err is not None:
        r['error'] = err
    out.append(r)
name = lambda e: errno.errorcode.get(e, str(e))
for t in job['targets']:
    try:
        s = socket.socket(socket.AF_INET6 if ':' in t['ip'] else socket.AF_INET, socket.SOCK_STREAM, 132)
        s.setblocking(False)
        e = s.connect_ex((t['ip'], job['port']))
    except OSError as x:
        done(t, name(x.errno) if x.errno else str(x))
        continue
    if e == errno.EINPROGRESS:
        sel.register(s, selectors.EVENT_WRITE, t)
    else:
        done(t, None if e == 0 else name(e))
        s.close()
deadline = t0 + job['timeoutMs'] / 1000
while sel.get_map() and time.monotonic() < deadline:
    for k, _ in sel.select(max(0, deadline - time.monotonic())):
        sel.unregister(k.fileobj)
        e = k.fileobj.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        done(k.data, None if e == 0 else name(e))
        k.fileobj.close()
for k in list(sel.get_map().values()):
    done(k.data, 'timeout')
    k.fileobj.close()
sys.stdout.write(json.dumps(out))
`;

/** Probes every target from inside `netns`; one process, all targets in parallel. */
export async function probeFrom(
  netns: string,
  targets: readonly ProbeTarget[],
  spec: ProbeSpec,
): Promise<ProbeResult[]> {
  if (targets.length === 0) return [];
  const job = JSON.stringify({ targets, port: spec.port, protocol: spec.protocol, timeoutMs: spec.timeoutMs });
  const argv = spec.protocol === 'SCTP' ? ['python3', '-c', SCTP_PROBER, job] : [process.execPath, '-e', PROBER, job];
  const r = await run(argv, {
    netns,
    timeoutMs: spec.timeoutMs + labTimeoutMs(15_000),
    check: false,
  });
  if (r.code !== 0) {
    throw new TesseraError('exec-failed', `cannot probe from netns "${netns}" (exit ${r.code}): ${r.stderr.trim()}`);
  }
  try {
    return JSON.parse(r.stdout) as ProbeResult[];
  } catch (err) {
    throw new TesseraError('bug', `prober in netns "${netns}" printed unparsable output: "${r.stdout.slice(0, 200)}"`, {
      cause: err,
    });
  }
}
