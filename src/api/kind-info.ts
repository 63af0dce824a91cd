/** Static facts about a resource kind: how it is named on the CLI and where it lives. */
export type ApiGroup = 'projectcalico.org' | 'core' | 'networking.k8s.io' | 'internal';

export interface KindInfo {
  kind: string;
  apiVersion: string;
  group: ApiGroup;
  /** Lower-case plural, used in datastore keys and on the CLI (`ippools`). */
  plural: string;
  /** Lower-case singular (`ippool`). */
  singular: string;
  shortNames: string[];
  namespaced: boolean;
}
