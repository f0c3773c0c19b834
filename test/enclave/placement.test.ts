// The placement policy: a product with fewer flops per wire byte than offloadMinIntensity runs inside on
// the local engine (nothing sent, counted as local), everything else goes out; 0 offloads everything.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  arithmeticIntensity,
  DEFAULT_OFFLOAD_MIN_INTENSITY,
  productFlops,
  productWireBytes,
} from '../../src/enclave/placement.js';
import { RemoteLinearOps } from '../../src/enclave/remote-linear-ops.js';
import { kernels } from '../../src/kernels/index.js';
import { LocalLinearOps } from '../../src/kernels/local-linear-ops.js';
import { SeededRng } from '../../src/tensor/seeded-rng.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { productGeometry } from '../../src/verify/product-geometry.js';
import { randomFloats } from '../verify/cases.js';
import { InProcessTransport } from './remote-test-transport.js';

describe('placement policy', () => {
  it('measures flops per wire byte: a VGG classifier Linear at batch 1 is ≈ 0.5, its convolutions ≥ 12', () => {
    const fc1 = productGeometry('dense', [1, 25088], [4096, 25088]);
    assert.equal(productFlops(fc1), 2 * 25088 * 4096);
    assert.equal(productWireBytes(fc1), 4 * (25088 + 4096 * 25088 + 4096));
    assert.ok(Math.abs(arithmeticIntensity(fc1) - 0.5) < 0.01);
    assert.ok(
      arithmeticIntensity(productGeometry('dense', [4, 25088], [4096, 25088])) <
        DEFAULT_OFFLOAD_MIN_INTENSITY,
    );
    const conv1 = productGeometry('conv2d', [1, 3, 224, 224], [64, 3, 3, 3], { stride: 1, padding: 1 });
    assert.ok(arithmeticIntensity(conv1) > 12);
    const conv5 = productGeometry('conv2dGradWeight', [1, 512, 14, 14], [1, 512, 14, 14], {
      stride: 1,
      padding: 1,
      k: 3,
    });
    assert.ok(arithmeticIntensity(conv5) > 80);
  });

  it('keeps a low-intensity product inside (same result as the local engine, nothing sent) and sends the rest', async () => {
    const rng = new SeededRng(101);
    const transport = new InProcessTransport();
    const remote = new RemoteLinearOps(transport, { integrity: 'float', offloadMinIntensity: 4 });
    const x = new Tensor([1, 300], randomFloats(300, rng));
    const w = new Tensor([200, 300], randomFloats(60_000, rng, 0.1));
    const got = await remote.forLayer('fc').dense(x, w);
    const want = await new LocalLinearOps(kernels).dense(x, w);
    assert.deepEqual(got.data, want.data);
    assert.equal(transport.calls, 0);
    const s = remote.stats();
    assert.equal(s.total.local, 1);
    assert.equal(s.total.calls, 0);
    assert.equal(s.byLayer.fc!.local, 1);
    assert.ok(s.total.localMs >= 0);
    const xc = new Tensor([1, 8, 16, 16], randomFloats(2048, rng));
    const wc = new Tensor([16, 8, 3, 3], randomFloats(1152, rng, 0.1));
    await remote.conv2d(xc, wc, { stride: 1, padding: 1 });
    assert.equal(transport.calls, 1, 'the convolution (intensity > 4) went out');
    assert.equal(remote.stats().total.calls, 1);
  });

  it('offloads everything at 0 (the default) and validates the threshold', async () => {
    const transport = new InProcessTransport();
    const remote = new RemoteLinearOps(transport, { integrity: 'float' });
    await remote.dense(
      new Tensor([1, 3], new Float32Array(3).fill(1)),
      new Tensor([2, 3], new Float32Array(6).fill(1)),
    );
    assert.equal(transport.calls, 1);
    assert.equal(remote.stats().total.local, 0);
    assert.throws(() => new RemoteLinearOps(transport, { offloadMinIntensity: -1 }), RangeError);
    assert.throws(() => new RemoteLinearOps(transport, { offloadMinIntensity: Number.NaN }), RangeError);
  });
});
