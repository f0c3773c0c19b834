// host:port as written on command lines (`--listen`, `--accelerator`): a name or IPv4 address, or an
// IPv6 address in brackets ([::1]:7070). Port 0 is accepted only where a caller allows it (listening).

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

export function parseAddress(s: string, allowPortZero = false): HostPort {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(s);
  if (m === null) throw new RangeError(`address '${s}' is not host:port (IPv6 as [addr]:port)`);
  const port = Number(m[3]);
  if (port > 65535 || (port === 0 && !allowPortZero))
    throw new RangeError(`address '${s}' has an invalid port`);
  return { host: (m[1] ?? m[2])!, port };
}

export function formatAddress(a: HostPort): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}
