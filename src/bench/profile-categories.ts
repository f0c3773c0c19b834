// Buckets for comparing a training step's time: our Kernels methods and PyTorch's aten ops (self CPU
// time under torch.autograd.profiler) mapped onto the same few categories.

export const CATEGORIES = [
  'conv forward',
  'conv backward',
  'batch-norm',
  'relu',
  'max-pool',
  'avg-pool',
  'linear',
  'loss',
  'bias, sums, axpy',
  'optimizer',
  'other',
] as const;

export type Category = (typeof CATEGORIES)[number];

const METHODS: Record<string, Category> = {
  conv2dForward: 'conv forward',
  conv2dBackwardInput: 'conv backward',
  conv2dBackwardWeight: 'conv backward',
  batchNorm2dForwardTrain: 'batch-norm',
  batchNorm2dForwardEval: 'batch-norm',
  batchNorm2dBackward: 'batch-norm',
  reluForward: 'relu',
  reluBackward: 'relu',
  maxPool2dForward: 'max-pool',
  maxPool2dBackward: 'max-pool',
  adaptiveAvgPool2dForward: 'avg-pool',
  adaptiveAvgPool2dBackward: 'avg-pool',
  sgemm: 'linear',
  dgemm: 'linear',
  crossEntropyForward: 'loss',
  crossEntropyBackward: 'loss',
  addChannelBias: 'bias, sums, axpy',
  sumChannels: 'bias, sums, axpy',
  axpy: 'bias, sums, axpy',
  sgdStep: 'optimizer',
};

export function categoryOfMethod(method: string): Category {
  return METHODS[method] ?? 'other';
}

// Optimizer ops (add_, mul_ inside SGD.step) are counted from the step phase instead, so the
// element-wise adds here are the residual additions and bias adds.
const TORCH: [RegExp, Category][] = [
  [/convolution_backward/, 'conv backward'],
  [/mkldnn_convolution|thnn_conv|slow_conv|conv_depthwise/, 'conv forward'],
  [/batch_norm/, 'batch-norm'],
  [/relu|clamp_min|threshold_backward/, 'relu'],
  [/max_pool/, 'max-pool'],
  [/adaptive_avg_pool|avg_pool|^aten::mean$/, 'avg-pool'],
  [/^aten::(addmm|mm|bmm|matmul)$/, 'linear'],
  [/log_softmax|nll_loss|cross_entropy/, 'loss'],
  [/^aten::(add|sum)$/, 'bias, sums, axpy'],
  [/Optimizer|^aten::(add_|mul_|zero_|fill_)$/, 'optimizer'],
];

export function categoryOfTorchOp(name: string): Category | null {
  for (const [re, c] of TORCH) if (re.test(name)) return c === 'optimizer' ? null : c;
  return 'other';
}
