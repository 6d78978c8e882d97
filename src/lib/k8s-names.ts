/** Kubernetes' name rules (RFC 1123), checked before any request: spark8t's accounts, sparkcraft's manifests. Pure. */

/** DNS-1123 checks done before any request. Returns the problem, or undefined when valid. */
export function dns1123Label(value: string): string | undefined {
  if (value.length === 0) return 'must not be empty';
  if (value.length > 63) return 'must be at most 63 characters';
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(value))
    return 'must consist of lower case alphanumeric characters or "-", and start and end with an alphanumeric character';
  return undefined;
}

export function dns1123Subdomain(value: string): string | undefined {
  if (value.length === 0) return 'must not be empty';
  if (value.length > 253) return 'must be at most 253 characters';
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(value))
    return 'must consist of lower case alphanumeric characters, "-" or ".", and start and end with an alphanumeric character';
  return undefined;
}
