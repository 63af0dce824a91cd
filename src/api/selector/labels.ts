/**
 * Kubernetes label key/value syntax (apimachinery `IsQualifiedName` / `IsValidLabelValue`), which Calico
 * inherits. Returns the problem as text, or undefined when valid.
 */
const NAME_MAX = 63;
const PREFIX_MAX = 253;
const NAME_RE = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const DNS1123_SUBDOMAIN_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

const NAME_CHARSET =
  "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";

export function validateLabelKey(key: string): string | undefined {
  const slash = key.indexOf('/');
  let name = key;
  if (slash >= 0) {
    const prefix = key.slice(0, slash);
    name = key.slice(slash + 1);
    if (prefix.length === 0) return `label key ${JSON.stringify(key)}: prefix part must be non-empty`;
    if (prefix.length > PREFIX_MAX) {
      return `label key ${JSON.stringify(key)}: prefix part must be no more than ${PREFIX_MAX} characters`;
    }
    if (!DNS1123_SUBDOMAIN_RE.test(prefix)) {
      return (
        `label key ${JSON.stringify(key)}: prefix part must be a lowercase RFC 1123 subdomain ` +
        `(lowercase alphanumerics, '-' or '.', starting and ending with an alphanumeric)`
      );
    }
  }
  if (name.length === 0) return `label key ${JSON.stringify(key)}: name part must be non-empty`;
  if (name.length > NAME_MAX) {
    return `label key ${JSON.stringify(key)}: name part must be no more than ${NAME_MAX} characters`;
  }
  if (!NAME_RE.test(name)) return `label key ${JSON.stringify(key)}: name part ${NAME_CHARSET}`;
  return undefined;
}

export function validateLabelValue(value: string): string | undefined {
  if (value.length === 0) return undefined;
  if (value.length > NAME_MAX) {
    return `label value ${JSON.stringify(value)}: must be no more than ${NAME_MAX} characters`;
  }
  if (!NAME_RE.test(value)) return `label value ${JSON.stringify(value)}: ${NAME_CHARSET}`;
  return undefined;
}
