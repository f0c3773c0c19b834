import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkBenchReport, checkExperimentFile, recordProblem } from '../../src/report/validate-results.js';
import { sampleResults } from './sample-results.js';

const sample = sampleResults(2);
const modes = sample.files['modes-20261125T100000Z.json'] as unknown as Record<string, unknown>;

test('accepts every generated experiment file whole, failed records included', () => {
  for (const [name, f] of Object.entries(sample.files)) {
    if (name.startsWith('bench-kernels-')) continue;
    const r = checkExperimentFile(f);
    assert.ok(r.ok, name);
    assert.deepEqual(r.value.dropped, [], name);
    assert.equal(r.value.file.records.length, (f as unknown as { records: unknown[] }).records.length, name);
  }
});

test('rejects a file of another schema, experiment or shape, saying which field', () => {
  const cases: [unknown, RegExp][] = [
    [[], /not a JSON object/],
    [{ ...modes, schema: 'tee-offload/experiment@2' }, /schema is "tee-offload\/experiment@2"/],
    [{ ...modes, experiment: 'latency' }, /unknown experiment "latency"/],
    [{ ...modes, startedAt: 'yesterday' }, /'startedAt' is not a date/],
    [{ ...modes, command: 7 }, /'command' should be a string/],
    [{ ...modes, machine: null }, /'machine' should be an object/],
    [{ ...modes, records: {} }, /'records' should be an array/],
  ];
  for (const [raw, reason] of cases) {
    const r = checkExperimentFile(raw);
    assert.equal(r.ok, false);
    if (!r.ok) assert.match(r.reason, reason);
  }
});

test('names the problem of a bad record: a missing field, a wrong type, a malformed breakdown', () => {
  assert.match(recordProblem('modes', { model: 'alexnet' }) ?? '', /'size' should be a number/);
  assert.match(
    recordProblem('crypto', { where: 'client', op: 'encrypt', bytes: 1, gbPerSec: '3' }) ?? '',
    /'gbPerSec' should be a number when present/,
  );
  const base = { model: 'vgg19_bn', size: 224, batch: 1, mode: 'split-exact' };
  assert.match(recordProblem('breakdown', { ...base, byKind: [{ kind: 'send' }] }) ?? '', /'byKind'/);
  assert.match(
    recordProblem('breakdown', {
      ...base,
      byLayer: [{ layer: 'x', type: 'Conv2d', ms: 1, phases: { send: 'a' } }],
    }) ?? '',
    /'byLayer'/,
  );
  assert.equal(recordProblem('breakdown', { ...base, error: 'failed' }), null);
  assert.match(recordProblem('peer', { ...base, threads: 2, error: 3 }) ?? '', /'error' should be a string/);
  assert.match(
    recordProblem('matrix', { rows: 1, inner: 2, cols: 3, mode: 'trusted', phases: { load: null } }) ?? '',
    /'phases'/,
  );
});

test('a bench-kernels file needs its kind, threads and workloads; a bad workload is dropped', () => {
  const bench = sample.files['bench-kernels-t2-20261120T100000Z.json'] as unknown as Record<string, unknown>;
  const ok = checkBenchReport(bench);
  assert.ok(ok.ok);
  assert.equal(ok.value.file.workloads.length, 2);
  assert.equal(checkBenchReport({ ...bench, kind: 'other' }).ok, false);
  assert.equal(checkBenchReport({ ...bench, settings: {} }).ok, false);
  const workloads = [...(bench.workloads as unknown[]), { id: 'x' }];
  const r = checkBenchReport({ ...bench, workloads });
  assert.ok(r.ok);
  assert.equal(r.value.file.workloads.length, 2);
  assert.match(r.value.dropped[0] ?? '', /^workload 2: /);
});
