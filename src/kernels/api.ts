// The contract every kernel backend fulfils: the native addon (kernels/native.ts) and the naive
// reference used only by tests (kernels/reference.ts). Arrays are dense, row-major (NCHW) and owned by
// the caller; outputs are written in place, never allocated by the kernel. Shapes are validated by the
// caller (layers) and again by the native face before any pointer is touched.

/** Conv2d geometry: x [n,c,h,w], w [o,c,k,k] → y [n,o,oh,ow], oh = floor((h+2p-k)/s)+1. */
export interface ConvGeom {
  readonly n: number;
  readonly c: number;
  readonly h: number;
  readonly w: number;
  readonly o: number;
  readonly k: number;
  readonly stride: number;
  readonly padding: number;
}

/** MaxPool2d geometry: x [n,c,h,w] → y [n,c,oh,ow] (floor mode, padding with -inf). */
export interface PoolGeom {
  readonly n: number;
  readonly c: number;
  readonly h: number;
  readonly w: number;
  readonly k: number;
  readonly stride: number;
  readonly padding: number;
}

/** AdaptiveAvgPool2d geometry: x [n,c,h,w] → y [n,c,oh,ow], bins [floor(i*h/oh), ceil((i+1)*h/oh)). */
export interface AdaptiveGeom {
  readonly n: number;
  readonly c: number;
  readonly h: number;
  readonly w: number;
  readonly oh: number;
  readonly ow: number;
}

/** BatchNorm2d geometry: x [n,c,hw] viewed per channel. */
export interface ChannelGeom {
  readonly n: number;
  readonly c: number;
  readonly hw: number;
}

export function convOutSize(size: number, k: number, stride: number, padding: number): number {
  return Math.floor((size + 2 * padding - k) / stride) + 1;
}

export interface KernelInfo {
  /** 'openblas' or 'builtin' (portable blocked kernel, slow). */
  readonly blas: string;
  /** 'onednn' or 'im2col'. */
  readonly conv: string;
  readonly threads: number;
  readonly maxThreads: number;
  /** Whether results are independent of the thread count (setDeterministic). */
  readonly deterministic: boolean;
  readonly cpuFeatures: readonly string[];
}

export interface Kernels {
  readonly name: string;

  // c [m,n] = op(a)·op(b) + beta·c; op(a) is [m,kk] (a stored [kk,m] when transA), op(b) is [kk,n]
  // (b stored [n,kk] when transB). beta is 0 (overwrite) or 1 (accumulate).
  sgemm(
    transA: boolean,
    transB: boolean,
    m: number,
    n: number,
    kk: number,
    a: Float32Array,
    b: Float32Array,
    beta: number,
    c: Float32Array,
  ): void;
  dgemm(
    transA: boolean,
    transB: boolean,
    m: number,
    n: number,
    kk: number,
    a: Float64Array,
    b: Float64Array,
    beta: number,
    c: Float64Array,
  ): void;

  // x [n,c,h,w], w [o,c,k,k] → y [n,o,oh,ow] (no bias; overwrites y)
  conv2dForward(g: ConvGeom, x: Float32Array, w: Float32Array, y: Float32Array): void;
  // dy [n,o,oh,ow], w [o,c,k,k] → dx [n,c,h,w] (overwrites dx)
  conv2dBackwardInput(g: ConvGeom, dy: Float32Array, w: Float32Array, dx: Float32Array): void;
  // dy [n,o,oh,ow], x [n,c,h,w] → dw [o,c,k,k] (overwrites dw)
  conv2dBackwardWeight(g: ConvGeom, dy: Float32Array, x: Float32Array, dw: Float32Array): void;

  // x [n,c,h,w] → y [n,c,oh,ow], argmax [n,c,oh,ow] = flat index h*w-plane offset of the first maximum
  // in row-major window order (ties go to the first).
  maxPool2dForward(g: PoolGeom, x: Float32Array, y: Float32Array, argmax: Int32Array): void;
  // dy [n,c,oh,ow], argmax → dx [n,c,h,w] (overwrites dx: zero then scatter-add)
  maxPool2dBackward(g: PoolGeom, dy: Float32Array, argmax: Int32Array, dx: Float32Array): void;

  // x [n,c,h,w] → y [n,c,oh,ow]
  adaptiveAvgPool2dForward(g: AdaptiveGeom, x: Float32Array, y: Float32Array): void;
  // dy [n,c,oh,ow] → dx [n,c,h,w] (overwrites dx)
  adaptiveAvgPool2dBackward(g: AdaptiveGeom, dy: Float32Array, dx: Float32Array): void;

  // Training mode: batch statistics. x [n,c,hw] → y; mean [c], variance [c] (biased, as used for
  // normalisation), invstd [c] = 1/sqrt(var+eps). weight/bias [c] or null (affine=false).
  batchNorm2dForwardTrain(
    g: ChannelGeom,
    x: Float32Array,
    weight: Float32Array | null,
    bias: Float32Array | null,
    eps: number,
    y: Float32Array,
    mean: Float32Array,
    variance: Float32Array,
    invstd: Float32Array,
  ): void;
  // Eval mode: running statistics.
  batchNorm2dForwardEval(
    g: ChannelGeom,
    x: Float32Array,
    weight: Float32Array | null,
    bias: Float32Array | null,
    runningMean: Float32Array,
    runningVar: Float32Array,
    eps: number,
    y: Float32Array,
  ): void;
  // Training-mode backward through batch statistics. Overwrites dx, dweight [c], dbias [c]
  // (dweight/dbias may be null when weight is null).
  batchNorm2dBackward(
    g: ChannelGeom,
    dy: Float32Array,
    x: Float32Array,
    weight: Float32Array | null,
    mean: Float32Array,
    invstd: Float32Array,
    dx: Float32Array,
    dweight: Float32Array | null,
    dbias: Float32Array | null,
  ): void;

  // y = max(x, 0) (y may alias x)
  reluForward(x: Float32Array, y: Float32Array): void;
  // dx = x > 0 ? dy : 0 (the gradient at 0 is 0). dx may alias dy.
  reluBackward(dy: Float32Array, x: Float32Array, dx: Float32Array): void;

  // logits [n,k], labels [n] in [0,k) → returns the mean loss; probs [n,k] = softmax(logits)
  crossEntropyForward(
    n: number,
    k: number,
    logits: Float32Array,
    labels: Int32Array,
    probs: Float32Array,
  ): number;
  // dlogits [n,k] = scale·(probs − onehot(labels)) / n  (overwrites)
  crossEntropyBackward(
    n: number,
    k: number,
    probs: Float32Array,
    labels: Int32Array,
    scale: number,
    dlogits: Float32Array,
  ): void;

  // y [n,c,hw] += bias[c]
  addChannelBias(g: ChannelGeom, y: Float32Array, bias: Float32Array): void;
  // out[c] += Σ_{n,hw} dy[n,c,hw]
  sumChannels(g: ChannelGeom, dy: Float32Array, out: Float32Array): void;
  // y += a·x
  axpy(a: number, x: Float32Array, y: Float32Array): void;

  // torch.optim.SGD for one parameter, in place: d = g + wd·p; if momentum: buf = first ? d : m·buf + d,
  // d = nesterov ? d + m·buf : buf; p -= lr·d. buf may be null when momentum is 0.
  sgdStep(
    p: Float32Array,
    grad: Float32Array,
    buf: Float32Array | null,
    lr: number,
    momentum: number,
    weightDecay: number,
    nesterov: boolean,
    first: boolean,
  ): void;

  // Threads every kernel may use (OpenMP team, oneDNN, OpenBLAS); default: all cores. Results are
  // bit-identical run to run. In deterministic mode (the default, see setDeterministic) they are also
  // bit-identical for every thread count; with it off, GEMM and convolution may differ in the last bits
  // between thread counts (OpenBLAS's and im2col's splits depend on it, oneDNN's backward-weight reduces
  // per-thread partial sums), so compare such runs with a tolerance.
  setThreads(n: number): void;
  // Deterministic mode (default on): every result is a function of the inputs only, whatever
  // setThreads says. GEMM and convolution then split their work into pieces fixed by the shape alone,
  // each reduced in a fixed order; off, they use the faster thread-dependent splits. It does not make
  // results equal across machines (BLAS and oneDNN pick kernels by CPU) nor across conv backends.
  setDeterministic(on: boolean): void;
  info(): KernelInfo;
}
