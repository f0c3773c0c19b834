// Routes a whole model's linear products through one RemoteLinearOps, each layer through its own
// labelled view (its torchvision module path, e.g. 'layer1.0.conv1'), so that stats().byLayer gives the
// per-layer breakdown and blinding finds each layer's pad set.
import { Layer } from '../nn/layer.js';
import type { Module } from '../nn/module.js';
import type { RemoteLinearOps } from './remote-linear-ops.js';

/** Sets every layer's linearOps to remote.forLayer(path); the root itself is labelled `rootLabel`. */
export function useRemoteLinearOps(model: Module, remote: RemoteLinearOps, rootLabel = 'model'): void {
  const visit = (m: Module, path: string): void => {
    if (m instanceof Layer) m.linearOps = remote.forLayer(path === '' ? rootLabel : path);
    for (const [name, child] of m.namedChildren()) visit(child, path === '' ? name : `${path}.${name}`);
  };
  visit(model, '');
}
