/**
 * The command server inside the lab VM (started by scripts/vm/stage2.sh as the VM's only service).
 * It runs `tessera` commands in the VM for the host's CLI (protocol.ts) and forwards VM_ETCD_PORT to
 * the etcd of the VM's current lab context, so the host's `tessera get/apply/patch` reach the lab.
 * Everything the lab makes lives in the VM (its /run and /tmp are the VM's own tmpfs).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect, createServer as createTcpServer } from 'node:net';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { start } from '../../lib/exec.js';
import { repoRoot } from '../../lib/paths.js';
import { readCliConfig } from '../../lib/context.js';
import { VM_CONTROL_PORT, VM_ETCD_PORT, encodeFrame, type RunRequest } from './protocol.js';

const children = new Set<ChildProcess>();

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let s = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (s += c));
    req.on('end', () => resolve(s));
    req.on('error', reject);
  });
}

async function runCommand(req: IncomingMessage, res: ServerResponse): Promise<void> {
  let body: RunRequest;
  try {
    body = JSON.parse(await readBody(req)) as RunRequest;
    if (!Array.isArray(body.argv) || !body.argv.every((a) => typeof a === 'string'))
      throw new Error('argv must be a list of strings');
  } catch (err) {
    res.writeHead(400).end(`bad request: ${String(err)}\n`);
    return;
  }
  res.writeHead(200, { 'content-type': 'application/x-ndjson' });
  const child = start([process.execPath, join(repoRoot(), 'dist', 'src', 'cli', 'main.js'), ...body.argv], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: process.env,
  });
  children.add(child);
  child.stdout?.on('data', (d: Buffer) => res.write(encodeFrame({ fd: 1, data: d.toString('base64') })));
  child.stderr?.on('data', (d: Buffer) => res.write(encodeFrame({ fd: 2, data: d.toString('base64') })));
  // The host went away (its CLI was interrupted): stop the command too.
  res.on('close', () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  });
  let exited = false;
  const finish = (code: number) => {
    if (exited) return;
    exited = true;
    children.delete(child);
    res.end(encodeFrame({ exit: code }));
  };
  child.on('error', () => finish(127));
  child.on('close', (code, sig) => finish(code ?? (sig ? 128 : 1)));
}

// Read by stage2.sh from the host's lab dir before the VM's own /run hides it.
const token = process.env['TESSERA_VM_TOKEN'] ?? '';

const server = createServer((req, res) => {
  if (token === '' || req.headers.authorization !== `Bearer ${token}`) {
    res.writeHead(401).end('unauthorized\n');
  } else if (req.method === 'GET' && req.url === '/ping') {
    res.writeHead(200).end('ok\n');
  } else if (req.method === 'POST' && req.url === '/run') {
    void runCommand(req, res);
  } else if (req.method === 'POST' && req.url === '/shutdown') {
    res.writeHead(200).end('bye\n', () => {
      for (const c of children) c.kill('SIGKILL');
      server.close();
      etcdForward.close();
      process.exit(0);
    });
  } else {
    res.writeHead(404).end('not found\n');
  }
});

/** The first etcd endpoint of the VM's current context (the lab `lab up` made current). */
function currentEtcd(): { host: string; port: number } | undefined {
  const cfg = readCliConfig();
  const ctx = cfg.currentContext !== undefined ? cfg.contexts[cfg.currentContext] : undefined;
  const ep = ctx?.etcdEndpoints[0];
  if (!ep) return undefined;
  const u = new URL(ep);
  return { host: u.hostname, port: Number(u.port || 2379) };
}

const etcdForward = createTcpServer((sock) => {
  const target = currentEtcd();
  if (!target) {
    sock.destroy();
    return;
  }
  const up = connect(target.port, target.host);
  sock.pipe(up).pipe(sock);
  const close = () => {
    sock.destroy();
    up.destroy();
  };
  sock.on('error', close);
  up.on('error', close);
});

etcdForward.listen(VM_ETCD_PORT, '0.0.0.0');
server.listen(VM_CONTROL_PORT, '0.0.0.0', () =>
  process.stderr.write(`vm: command server listening on ${VM_CONTROL_PORT}\n`),
);
