/** Thin test wrapper: one etcd per test file, stopped (and its data dir removed) afterwards. */
import { after, before } from 'node:test';
import { startEtcd, type EtcdHandle, type StartEtcdOptions } from '../../src/lab/etcd.js';

export function useEtcd(opts: StartEtcdOptions = {}): { readonly etcd: EtcdHandle } {
  const box: { etcd?: EtcdHandle } = {};
  before(async () => {
    box.etcd = await startEtcd(opts);
  });
  after(async () => {
    await box.etcd?.stop();
  });
  return {
    get etcd(): EtcdHandle {
      if (!box.etcd) throw new Error('etcd is not started yet (use it inside a test)');
      return box.etcd;
    },
  };
}
