import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { isTeeError } from '../../src/errors.js';
import { findFont } from '../../src/report/find-font.js';
import { PNG_SCALE, svgToPng } from '../../src/report/render-chart.js';
import { CHART_STEMS, type ReportResult, writeReport } from '../../src/report/write-report.js';
import { INJECTED_MODEL, type Sample, writeSampleResults } from './sample-results.js';

const CLI = resolve('dist/src/cli/main.js');
const root = mkdtempSync(join(tmpdir(), 'tee-offload-report-'));
after(() => rmSync(root, { recursive: true, force: true }));

const CHARTS = ['step-time', 'breakdown', 'matrix', 'matrix-phases', 'crypto', 'equivalence', 'peer'];

// Axis titles (with their units) each chart must carry, as they appear in the SVG text.
const AXIS_TITLES: Record<string, string[]> = {
  'step-time': ['median wall time (ms, log scale)', 'model (input size, batch)'],
  breakdown: ['time per step (ms)', 'model · mode (input size, batch)'],
  matrix: ['time per product (ms', 'rows of the product'],
  'matrix-phases': ['time per product (ms)', 'rows of the product'],
  crypto: ['throughput (GB/s)', 'operation'],
  equivalence: ['max |Δ| (quantity’s units, log)', 'mode · threads'],
  peer: ['speed relative to PyTorch CPU (× = torch ms / our ms)', 'workload · threads'],
};

let sample: Sample;
let report: ReportResult;
let html: string;
const resultsDir = join(root, 'results');
const outDir = join(root, 'out');

before(async () => {
  sample = writeSampleResults(resultsDir, 7);
  writeFileSync(join(resultsDir, 'crypto-broken.json'), '{"schema": "tee-offload/experiment@1", "experi');
  writeFileSync(join(resultsDir, 'notes.json'), JSON.stringify({ hello: 'world' }));
  report = await writeReport(resultsDir, outDir);
  html = readFileSync(join(outDir, 'index.html'), 'utf8');
});

function pngSize(buf: Buffer): { width: number; height: number } {
  return { width: buf.readUInt32BE(16), height: buf.readUInt32BE(20) };
}

function svgSize(svg: string): { width: number; height: number } {
  const m = /^<svg[^>]*\swidth="(\d+(?:\.\d+)?)"[^>]*\sheight="(\d+(?:\.\d+)?)"/.exec(svg);
  assert.ok(m, 'the root <svg> has width and height');
  return { width: Number(m[1]), height: Number(m[2]) };
}

/** Tags open and close in order (enough to catch truncation and unescaped text). */
function assertBalancedXml(svg: string, name: string): void {
  const stack: string[] = [];
  for (const m of svg.matchAll(/<(\/?)([a-zA-Z][\w:-]*)([^>]*?)(\/?)>/g)) {
    const [, close, tag, , self] = m;
    if (self) continue;
    if (close) assert.equal(stack.pop(), tag, `${name}: </${tag}> closes the open tag`);
    else stack.push(tag!);
  }
  assert.deepEqual(stack, [], `${name}: every tag is closed`);
  assert.doesNotMatch(svg.replace(/<[^>]*>/g, ''), /[<>]/, `${name}: no raw < or > in text`);
}

test('writes every chart as SVG and PNG and an index page, none of them empty', () => {
  assert.deepEqual([...CHART_STEMS].sort(), [...CHARTS].sort());
  const expected = [...CHARTS.flatMap((c) => [`${c}.svg`, `${c}.png`]), 'index.html'];
  assert.deepEqual(report.files.map((f) => f.slice(outDir.length + 1)).sort(), expected.sort());
  for (const f of report.files) assert.ok(statSync(f).size > 500, `${f} is not empty`);
});

test('each PNG has the PNG signature and PNG_SCALE times the size of its SVG', () => {
  for (const c of CHARTS) {
    const png = readFileSync(join(outDir, `${c}.png`));
    assert.deepEqual(
      [...png.subarray(0, 8)],
      [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a],
      `${c}.png signature`,
    );
    assert.equal(png.subarray(12, 16).toString('latin1'), 'IHDR', `${c}.png starts with IHDR`);
    const svg = svgSize(readFileSync(join(outDir, `${c}.svg`), 'utf8'));
    const size = pngSize(png);
    assert.equal(size.width, Math.round(svg.width * PNG_SCALE), `${c}.png width`);
    assert.equal(size.height, Math.round(svg.height * PNG_SCALE), `${c}.png height`);
    assert.ok(svg.width >= 300 && svg.height >= 200, `${c}.svg is a readable size`);
  }
});

test('each SVG is well-formed and names its axes with their units', () => {
  for (const c of CHARTS) {
    const svg = readFileSync(join(outDir, `${c}.svg`), 'utf8');
    assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/, `${c}.svg is an SVG`);
    assertBalancedXml(svg, `${c}.svg`);
    for (const title of AXIS_TITLES[c]!)
      assert.ok(svg.includes(title), `${c}.svg has the axis title '${title}'`);
  }
});

test('the peer chart draws the rules at 1.0 and 0.9 and the bench-kernels workloads', () => {
  const svg = readFileSync(join(outDir, 'peer.svg'), 'utf8');
  assert.ok(svg.includes('parity 1.0') && svg.includes('>0.9<'), 'the reference rules are in the legend');
  assert.ok(svg.includes('gemm 512 · T2'), 'a bench-kernels workload is drawn');
  assert.ok(svg.includes('&lt;script&gt;'), 'the injected model name is escaped in the SVG');
});

test('the equivalence chart labels exact zeros on its log axis', () => {
  const svg = readFileSync(join(outDir, 'equivalence.svg'), 'utf8');
  assert.match(svg, />0<\/text>/, "an axis tick reads '0'");
  assert.ok(svg.includes('exact 0 (bit-identical)'), 'the legend names bit-identical results');
});

test('the page holds every number of every record, failed records and their errors', () => {
  const missing = sample.numbers.filter((n) => !html.includes(String(n)));
  assert.deepEqual(missing, [], 'every number appears (as text or as the exact value on hover)');
  for (const err of [
    'enclave out of memory (EPC)',
    'accelerator connection reset',
    'timed out',
    'torch not installed',
  ])
    assert.ok(html.includes(err), `the page shows '${err}'`);
  assert.match(html, /class="failed"/);
});

test('the page names the machine, the commands, the timestamps and the files used', () => {
  for (const s of ['Test CPU @ 2.0GHz', 'tee-offload bench modes --out results', '2026-11-25T10:00:00.000Z'])
    assert.ok(html.includes(s), `the page shows '${s}'`);
  for (const name of Object.keys(sample.files)) assert.ok(html.includes(name), `the page names ${name}`);
  for (const c of CHARTS) assert.ok(html.includes(`<img src="${c}.svg"`), `the page shows ${c}.svg`);
});

test('escapes a <script> injected in a model name', () => {
  assert.ok(!html.includes(INJECTED_MODEL), 'the raw tag is not in the page');
  assert.ok(!/<script/i.test(html), 'the page has no script element at all');
  assert.ok(
    html.includes('&#60;script&#62;alert(&#34;x&#34;)&#60;/script&#62;'),
    'the name is shown escaped',
  );
});

test('a malformed or unknown file gives a warning naming it; the rest is reported', () => {
  const broken = report.warnings.find((w) => w.startsWith('crypto-broken.json:'));
  assert.ok(broken, 'crypto-broken.json is named');
  assert.match(broken, /not valid JSON/);
  const notes = report.warnings.find((w) => w.startsWith('notes.json:'));
  assert.ok(notes, 'notes.json is named');
  assert.match(notes, /not a usable experiment file/);
  assert.ok(html.includes('crypto-broken.json'), 'the page lists the warning too');
});

test('of several runs of one experiment the newest is used, and the page says which', async () => {
  const dir = join(root, 'two-runs');
  const out = join(root, 'two-runs-out');
  const s = writeSampleResults(dir, 11);
  const crypto = s.files['crypto-20261125T100000Z.json'] as unknown as { records: { medianMs?: number }[] };
  const older = {
    ...crypto,
    startedAt: '2026-11-24T09:00:00.000Z',
    records: [{ where: 'client', op: 'encrypt', bytes: 4096, medianMs: 123.456789 }],
  };
  // The older run sorts after the newer one by name: the start time decides, not the name.
  writeFileSync(join(dir, 'crypto-zzzz.json'), JSON.stringify(older));
  const r = await writeReport(dir, out);
  const page = readFileSync(join(out, 'index.html'), 'utf8');
  assert.ok(!page.includes('123.456789'), 'the older run is not in the tables');
  assert.match(page, /crypto-20261125T100000Z\.json/);
  assert.match(page, /crypto-zzzz\.json/, 'the older run is named as not used');
  assert.deepEqual(r.warnings, []);
});

test('records that fail the structural checks are dropped with a warning naming file and index', async () => {
  const dir = join(root, 'bad-records');
  mkdirSync(dir);
  const s = writeSampleResults(dir, 3);
  const modes = s.files['modes-20261125T100000Z.json'] as unknown as { records: unknown[] };
  const records = [...modes.records];
  records[2] = { model: 42, size: 224, batch: 1, workload: 'step', mode: 'native' };
  writeFileSync(join(dir, 'modes-20261125T100000Z.json'), JSON.stringify({ ...modes, records }));
  const r = await writeReport(dir, join(root, 'bad-records-out'));
  assert.ok(
    r.warnings.some((w) => w.startsWith('modes-20261125T100000Z.json: record 2:') && w.includes("'model'")),
    r.warnings.join('\n'),
  );
  assert.ok(
    r.files.some((f) => f.endsWith('step-time.svg')),
    'the other records are still charted',
  );
});

test('an experiment whose records all failed gets no chart but its table and a warning', async () => {
  const dir = join(root, 'all-failed');
  const s = writeSampleResults(dir, 5);
  const crypto = s.files['crypto-20261125T100000Z.json'] as unknown as {
    records: { where: string; op: string; bytes: number }[];
  };
  const failed = crypto.records.map((r) => ({
    where: r.where,
    op: r.op,
    bytes: r.bytes,
    error: 'no AES-NI today',
  }));
  writeFileSync(join(dir, 'crypto-20261125T100000Z.json'), JSON.stringify({ ...crypto, records: failed }));
  const out = join(root, 'all-failed-out');
  mkdirSync(out);
  writeFileSync(join(out, 'crypto.svg'), '<svg>from an earlier report</svg>');
  const r = await writeReport(dir, out);
  assert.ok(!r.files.some((f) => f.includes('crypto.')), 'no crypto chart');
  assert.ok(!existsSync(join(out, 'crypto.svg')), 'the stale chart of an earlier report is gone');
  assert.ok(r.warnings.some((w) => w.includes('every record failed')));
  assert.ok(readFileSync(join(out, 'index.html'), 'utf8').includes('no AES-NI today'));
});

test('an empty directory, or one with nothing usable, is E_FORMAT; a missing one E_IO', async () => {
  const empty = join(root, 'empty');
  mkdirSync(empty);
  await assert.rejects(writeReport(empty, join(root, 'o1')), (e) => isTeeError(e, 'E_FORMAT'));
  const junk = join(root, 'junk');
  mkdirSync(junk);
  writeFileSync(join(junk, 'modes-1.json'), '[1, 2');
  await assert.rejects(
    writeReport(junk, join(root, 'o2')),
    (e) => isTeeError(e, 'E_FORMAT') && e.message.includes('modes-1.json'),
  );
  await assert.rejects(writeReport(join(root, 'nope'), join(root, 'o3')), (e) => isTeeError(e, 'E_IO'));
});

test('with a font found, the PNG has text: it differs from a render with no font at all', (t) => {
  const font = findFont();
  if (font === null) {
    t.skip('no system font (CI installs fonts-dejavu-core)');
    return;
  }
  const svg = readFileSync(join(outDir, 'crypto.svg'), 'utf8');
  const withText = svgToPng(svg, font);
  const withoutText = svgToPng(svg, { family: 'No Such Font', files: [] });
  assert.deepEqual(pngSize(withText), pngSize(withoutText));
  assert.notDeepEqual(withText, withoutText);
});

test('findFont returns null when the folders hold no known font', () => {
  assert.equal(findFont([join(root, 'empty')]), null);
});

test('`tee-offload report` writes the report, and exits 3 with one line on an empty directory', () => {
  const out = join(root, 'cli-out');
  const ok = spawnSync(process.execPath, [CLI, 'report', resultsDir, '--out', out], { encoding: 'utf8' });
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /index\.html/);
  assert.match(ok.stderr, /warning: crypto-broken\.json/);
  assert.ok(statSync(join(out, 'step-time.png')).size > 0);
  const bad = spawnSync(process.execPath, [CLI, 'report', join(root, 'empty'), '--out', join(root, 'o4')], {
    encoding: 'utf8',
  });
  assert.equal(bad.status, 3);
  assert.match(bad.stderr, /^tee-offload: E_FORMAT: no experiment results in .*\n$/);
  const usage = spawnSync(process.execPath, [CLI, 'report'], { encoding: 'utf8' });
  assert.equal(usage.status, 2);
  assert.match(usage.stderr, /report needs RESULTS_DIR/);
});
