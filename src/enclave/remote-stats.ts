// Per-op timing of RemoteLinearOps, summed per op kind and per layer label: where a remote product's
// time goes (quantize/blind, send, accelerator compute, receive, verify, unblind/dequantize). compute is
// what the accelerator reports (untrusted: informational only); every other phase is measured here.

export interface PhaseTotals {
  /** Products completed (a value returned). */
  calls: number;
  /** Second attempts after a failed check or transport error. */
  retries: number;
  /**
   * Accelerator requests whose result was verified and used: one per product, more for an exact product
   * cut over its inner dimension (docs/integrity.md "Products too long for p").
   */
  requests: number;
  /**
   * Products the placement policy kept inside (computed on the local engine, nothing sent); they are not
   * in `calls` (docs/integrity.md "Placement").
   */
  local: number;
  /** Time of the kept-inside products (ms). */
  localMs: number;
  /** Attempts whose reply was refused (bad form or failed check) or that failed in transport. */
  failures: number;
  /** Quantization, scale selection, bound assertion and blinding (ms). */
  quantizeMs: number;
  sendMs: number;
  /** Reported by the accelerator: untrusted. */
  computeMs: number;
  receiveMs: number;
  /** Form checks and Freivalds (ms). */
  verifyMs: number;
  /** Unblinding and dequantization (ms). */
  dequantizeMs: number;
  /** Wall time of the whole call, retries included (ms). */
  totalMs: number;
  bytesSent: number;
  bytesReceived: number;
  /** Bytes of weights not sent because the accelerator had them cached (protocol 2 operand cache). */
  bytesCached: number;
}

export interface RemoteStats {
  readonly byOp: Readonly<Record<string, PhaseTotals>>;
  /** Only calls made through a labelled view (RemoteLinearOps.forLayer). */
  readonly byLayer: Readonly<Record<string, PhaseTotals>>;
  readonly total: PhaseTotals;
}

export function emptyTotals(): PhaseTotals {
  return {
    calls: 0,
    retries: 0,
    requests: 0,
    local: 0,
    localMs: 0,
    failures: 0,
    quantizeMs: 0,
    sendMs: 0,
    computeMs: 0,
    receiveMs: 0,
    verifyMs: 0,
    dequantizeMs: 0,
    totalMs: 0,
    bytesSent: 0,
    bytesReceived: 0,
    bytesCached: 0,
  };
}

function addInto(into: PhaseTotals, s: PhaseTotals): void {
  for (const key of Object.keys(into) as (keyof PhaseTotals)[]) into[key] += s[key];
}

export class RemoteStatsRecorder {
  private byOp = new Map<string, PhaseTotals>();
  private byLayer = new Map<string, PhaseTotals>();
  private total = emptyTotals();

  record(op: string, label: string | undefined, sample: PhaseTotals): void {
    addInto(this.total, sample);
    addInto(getOrAdd(this.byOp, op), sample);
    if (label !== undefined) addInto(getOrAdd(this.byLayer, label), sample);
  }

  snapshot(): RemoteStats {
    const copy = (m: Map<string, PhaseTotals>): Record<string, PhaseTotals> =>
      Object.fromEntries([...m].map(([k, v]) => [k, { ...v }]));
    return { byOp: copy(this.byOp), byLayer: copy(this.byLayer), total: { ...this.total } };
  }

  reset(): void {
    this.byOp = new Map();
    this.byLayer = new Map();
    this.total = emptyTotals();
  }
}

function getOrAdd(m: Map<string, PhaseTotals>, key: string): PhaseTotals {
  let t = m.get(key);
  if (t === undefined) {
    t = emptyTotals();
    m.set(key, t);
  }
  return t;
}
