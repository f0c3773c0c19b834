// The experiment-file validator the report also uses: a well-formed file passes; each kind of departure
// from schema.ts is named; a record with `error` may leave its numbers out.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EXPERIMENT_SCHEMA } from '../../../src/bench/experiments/schema.js';
import { experimentFileProblems, validateExperimentFile } from '../../../src/bench/experiments/validate.js';
import { isTeeError } from '../../../src/errors.js';

function file(experiment: string, records: unknown[]) {
  return {
    schema: EXPERIMENT_SCHEMA,
    experiment,
    startedAt: '2026-11-25T23:00:00.000Z',
    finishedAt: '2026-11-25T23:01:00.000Z',
    command: 'tee-offload bench test',
    machine: { cpu: 'test cpu', cores: 2 },
    settings: {},
    records,
  };
}

const mode = { model: 'resnet18', size: 32, batch: 2, workload: 'step', mode: 'native', images: 2 };

describe('validateExperimentFile', () => {
  it('accepts a modes file with a measured record and a failed one', () => {
    const f = file('modes', [
      { ...mode, samplesMs: [10, 12], medianMs: 11, imagesPerSec: 181.8 },
      { ...mode, mode: 'split-exact', error: 'E_USAGE: refused' },
    ]);
    assert.deepEqual(experimentFileProblems(f), []);
    assert.equal(validateExperimentFile(f).records.length, 2);
  });

  it('requires the numbers of a record without error', () => {
    const problems = experimentFileProblems(file('modes', [mode]));
    assert.ok(
      problems.some((p) => p.includes("records[0]: 'medianMs' is missing")),
      problems.join('\n'),
    );
  });

  it('rejects a wrong schema tag, an unknown experiment, an unknown mode and a bad date', () => {
    const f = { ...file('modes', [{ ...mode, mode: 'gpu', error: 'x' }]), schema: 'other@1' };
    const problems = experimentFileProblems(f);
    assert.ok(problems.some((p) => p.includes("'schema'")));
    assert.ok(problems.some((p) => p.includes("'mode' must be one of")));
    assert.ok(experimentFileProblems(file('nope', [])).some((p) => p.includes("'experiment'")));
    assert.ok(
      experimentFileProblems({ ...file('modes', []), startedAt: 'yesterday' }).some((p) =>
        p.includes('ISO date'),
      ),
    );
  });

  it('refuses a nonzero tolerance where bit identity is expected', () => {
    const rec = {
      model: 'resnet18',
      mode: 'native',
      threads: 2,
      phase: 'inference',
      quantity: 'logits',
      maxAbsDiff: 0,
      tolerance: 1e-6,
      bitIdenticalExpected: true,
      pass: true,
    };
    assert.ok(
      experimentFileProblems(file('equivalence', [rec])).some((p) => p.includes("'tolerance' must be 0")),
    );
    assert.deepEqual(experimentFileProblems(file('equivalence', [{ ...rec, tolerance: 0 }])), []);
  });

  it('checks breakdown kinds and matrix phases by name', () => {
    const b = {
      model: 'vgg19_bn',
      size: 224,
      batch: 1,
      mode: 'split-exact',
      totalMs: 10,
      byKind: [{ kind: 'gpu', ms: 1 }],
      byLayer: [{ layer: 'features.0', type: 'Conv2d', ms: 1, phases: { quantize: 0.5, warp: 1 } }],
    };
    const problems = experimentFileProblems(file('breakdown', [b]));
    assert.ok(problems.some((p) => p.includes("'kind' must be one of")));
    assert.ok(problems.some((p) => p.includes("unknown phase 'warp'")));
    const m = { rows: 2304, inner: 1024, cols: 1024, mode: 'trusted', phases: { compute: 1 }, totalMs: 1 };
    assert.deepEqual(experimentFileProblems(file('matrix', [m])), []);
  });

  it('lets a skipped peer record leave out its timings', () => {
    const r = { model: 'resnet18', size: 224, batch: 1, threads: 2, skipped: 'no torch' };
    assert.deepEqual(experimentFileProblems(file('peer', [r])), []);
    const { skipped: _, ...bare } = r;
    assert.ok(experimentFileProblems(file('peer', [bare])).some((p) => p.includes("'oursMs' is missing")));
  });

  it('throws E_FORMAT naming the problems', () => {
    assert.throws(
      () => validateExperimentFile({ schema: EXPERIMENT_SCHEMA }, 'x.json'),
      (e: unknown) => isTeeError(e, 'E_FORMAT') && /x\.json does not follow/.test((e as Error).message),
    );
    assert.deepEqual(experimentFileProblems([]), ['file: must be a JSON object']);
  });
});
