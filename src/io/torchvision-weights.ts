// torchvision 0.14's published ImageNet weights (IMAGENET1K_V1) for the models this engine builds,
// and torchvision's integrity rule (torch.hub check_hash): the file name ends in -<h>.pth where <h>
// is the first hex digits of the file's SHA-256. Older files among them use the legacy format.
import { createHash } from 'node:crypto';
import { TeeError } from '../errors.js';

export const TORCHVISION_BASE_URL = 'https://download.pytorch.org/models';

export const TORCHVISION_WEIGHTS = {
  alexnet: 'alexnet-owt-7be5be79.pth',
  resnet18: 'resnet18-f37072fd.pth',
  resnet34: 'resnet34-b627a593.pth',
  vgg11: 'vgg11-8a719046.pth',
  vgg11_bn: 'vgg11_bn-6002323d.pth',
  vgg13: 'vgg13-19584684.pth',
  vgg13_bn: 'vgg13_bn-abd245e5.pth',
  vgg16: 'vgg16-397923af.pth',
  vgg16_bn: 'vgg16_bn-6c64b313.pth',
  vgg19: 'vgg19-dcbb9e9d.pth',
  vgg19_bn: 'vgg19_bn-c79401a0.pth',
} as const;

export type TorchvisionModel = keyof typeof TORCHVISION_WEIGHTS;

export function isTorchvisionModel(name: string): name is TorchvisionModel {
  return Object.hasOwn(TORCHVISION_WEIGHTS, name);
}

/** The hex prefix torchvision puts in a weights file name (`resnet18-f37072fd.pth` → `f37072fd`). */
export function hashPrefixOf(fileName: string): string {
  const m = /-([0-9a-f]{6,64})\.pth$/.exec(fileName);
  if (m === null) throw new RangeError(`${fileName} has no -<sha256 prefix>.pth suffix`);
  return m[1]!;
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Throws E_FORMAT unless the SHA-256 of `bytes` starts with `prefix` (torch.hub's check_hash). */
export function checkHashPrefix(bytes: Uint8Array, prefix: string, what: string): string {
  const digest = sha256Hex(bytes);
  if (!digest.startsWith(prefix)) {
    throw new TeeError(
      'E_FORMAT',
      `${what}: SHA-256 ${digest.slice(0, 16)}… does not start with ${prefix}: not the published file (corrupt or a different download)`,
    );
  }
  return digest;
}
