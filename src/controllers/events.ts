/**
 * Kubernetes Events for what users must see with `kubectl get events` / `kubectl describe`: a
 * NetworkPolicy Tessera's validator rejects is reported on that object, reason FailedValidation,
 * with the validator's message (field path and value).
 *
 * Like client-go's recorder, a repeat of the same (object uid, reason, message) bumps `count` and
 * `lastTimestamp` of the Event already written (a JSON patch) instead of writing a new one. A
 * failure to write an Event is logged and counted, never thrown: reporting must not stop a controller.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { describeError } from '../lib/errors.js';

export interface InvolvedObject {
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
}

/** The two API calls an EventRecorder makes (KUBE_WRITES lists them for RBAC). */
export interface EventSink {
  create(namespace: string, event: Record<string, unknown>): Promise<void>;
  /** JSON patch of an existing Event; rejects when it is gone (404). */
  patch(namespace: string, name: string, ops: { op: 'replace'; path: string; value: unknown }[]): Promise<void>;
}

export const EVENT_COMPONENT = 'tessera-kube-controllers';

export class EventRecorder {
  private readonly seen = new Map<string, { name: string; count: number }>();

  constructor(
    private readonly sink: EventSink,
    private readonly logger: Logger,
    private readonly instance: string,
    private readonly onFailure?: () => void,
  ) {}

  /** Records a Warning Event on `obj`; resolves whether or not the write succeeded. */
  async warning(obj: InvolvedObject, reason: string, message: string): Promise<void> {
    const namespace = obj.namespace ?? 'default';
    const key = `${obj.uid ?? `${namespace}/${obj.name}`}|${reason}|${message}`;
    const nowIso = new Date().toISOString();
    const prev = this.seen.get(key);
    try {
      if (prev) {
        try {
          await this.sink.patch(namespace, prev.name, [
            { op: 'replace', path: '/count', value: prev.count + 1 },
            { op: 'replace', path: '/lastTimestamp', value: nowIso },
          ]);
          prev.count++;
          return;
        } catch {
          this.seen.delete(key); // gone (events expire): write a new one
        }
      }
      const name = `${obj.name}.${randomBytes(8).toString('hex')}`;
      // The Event API caps a message at 1 KiB.
      const msg = message.length > 1024 ? `${message.slice(0, 1021)}...` : message;
      await this.sink.create(namespace, {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { name, namespace },
        involvedObject: {
          apiVersion: obj.apiVersion,
          kind: obj.kind,
          name: obj.name,
          namespace,
          ...(obj.uid ? { uid: obj.uid } : {}),
          ...(obj.resourceVersion ? { resourceVersion: obj.resourceVersion } : {}),
        },
        reason,
        message: msg,
        type: 'Warning',
        count: 1,
        firstTimestamp: nowIso,
        lastTimestamp: nowIso,
        source: { component: EVENT_COMPONENT },
        reportingComponent: EVENT_COMPONENT,
        reportingInstance: this.instance,
      });
      this.seen.set(key, { name, count: 1 });
    } catch (err) {
      this.onFailure?.();
      this.logger.warn(
        { object: `${obj.kind} ${namespace}/${obj.name}`, reason, err: describeError(err) },
        'cannot write Kubernetes Event',
      );
    }
  }
}

/** An EventSink over the real API (client-node CoreV1Api). */
export async function kubeEventSink(kc: import('@kubernetes/client-node').KubeConfig): Promise<EventSink> {
  const k8s = await import('@kubernetes/client-node');
  const core = kc.makeApiClient(k8s.CoreV1Api);
  return {
    create: async (namespace, body) => {
      // client-node serializes the timestamps from Date objects.
      const ev = {
        ...body,
        firstTimestamp: new Date(String(body.firstTimestamp)),
        lastTimestamp: new Date(String(body.lastTimestamp)),
      } as unknown as import('@kubernetes/client-node').CoreV1Event;
      await core.createNamespacedEvent({ namespace, body: ev });
    },
    patch: async (namespace, name, ops) => {
      await core.patchNamespacedEvent({ namespace, name, body: ops });
    },
  };
}
