// sgx.max_threads: every thread the trusted process may have at once. Without EDMM an SGX enclave has
// a fixed number of thread slots (TCS), and a thread that finds none fails to start, so this counts
// each pool the process runs, pins the pools whose size Node.js would otherwise pick (V8 platform,
// libuv, OpenMP, OpenBLAS: the manifest sets their sizes by flag or environment), and adds a margin.

/** Threads of V8's platform pool: `node --v8-pool-size` in the manifest's argv (Node.js's default). */
export const V8_POOL_SIZE = 4;
/** libuv's thread pool (fs, crypto, dns.lookup): UV_THREADPOOL_SIZE in the manifest (libuv's default). */
export const LIBUV_POOL_SIZE = 4;
/** Gramine's own helper threads: IPC, async events, TLS handshake of a new pipe (manifest-syntax docs). */
export const GRAMINE_HELPER_THREADS = 3;

export interface ThreadItem {
  readonly name: string;
  readonly threads: number;
  readonly why: string;
}

export interface ThreadBudget {
  readonly items: readonly ThreadItem[];
  /** sgx.max_threads. */
  readonly total: number;
}

/** The thread budget for `kernelThreads` (the addon's OpenMP team size, `--threads`). */
export function threadBudget(kernelThreads: number): ThreadBudget {
  if (!Number.isInteger(kernelThreads) || kernelThreads < 1 || kernelThreads > 1024) {
    throw new RangeError(`kernelThreads must be an integer in [1, 1024], got ${kernelThreads}`);
  }
  const workers = kernelThreads - 1; // the calling (main) thread is the team's thread 0
  const base: ThreadItem[] = [
    { name: 'main (JavaScript, event loop)', threads: 1, why: 'runs the layer loop and calls the kernels' },
    {
      name: 'V8 platform pool',
      threads: V8_POOL_SIZE,
      why: `node --v8-pool-size=${V8_POOL_SIZE}: GC, compilation`,
    },
    { name: 'Node.js helpers', threads: 2, why: 'delayed-task scheduler; SIGUSR1 inspector watchdog' },
    {
      name: 'libuv pool',
      threads: LIBUV_POOL_SIZE,
      why: `UV_THREADPOOL_SIZE=${LIBUV_POOL_SIZE}: fs, crypto, dns`,
    },
    {
      name: 'OpenMP team',
      threads: workers,
      why: `OMP_NUM_THREADS=OMP_THREAD_LIMIT=${kernelThreads}: kernels, oneDNN`,
    },
    { name: 'OpenBLAS pool', threads: workers, why: `OPENBLAS_NUM_THREADS=${kernelThreads} (pthread build)` },
    { name: 'Gramine helpers', threads: GRAMINE_HELPER_THREADS, why: 'IPC, async events, TLS handshake' },
  ];
  const subtotal = base.reduce((n, i) => n + i.threads, 0);
  const margin = Math.max(4, Math.ceil(subtotal / 4));
  const items = [
    ...base,
    { name: 'margin', threads: margin, why: 'max(4, 25%): worker_threads, library threads not listed' },
  ];
  return { items, total: subtotal + margin };
}
