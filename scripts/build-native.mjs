// Builds the native addon (build/Release/tee_offload.node) with node-gyp; run by `npm install`/`npm ci`.
// Optional libraries are probed by scripts/detect-native.mjs, so a machine without OpenBLAS or oneDNN
// still builds (with the slower fallbacks). If a build with the optional libraries fails anyway, it is
// retried once without them. Exit status is non-zero only when even the plain build fails (no compiler).
// Usage: node scripts/build-native.mjs [--debug]
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

// node-gyp: the one npm runs scripts with, npm's bundled copy, or a local install.
function findNodeGyp() {
  const candidates = [];
  if (process.env.npm_config_node_gyp) candidates.push(process.env.npm_config_node_gyp);
  if (process.env.npm_execpath) {
    candidates.push(
      join(dirname(process.env.npm_execpath), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
    );
  }
  const prefix = resolve(dirname(process.execPath), '..');
  candidates.push(
    join(prefix, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  );
  try {
    candidates.push(require.resolve('node-gyp/bin/node-gyp.js'));
  } catch {
    // not installed locally
  }
  return candidates.find((p) => existsSync(p));
}

// Node's headers: npm's configured nodedir, else the ones installed beside this node binary (so that
// node-gyp never tries to download them).
function nodeDirArgs() {
  if (process.env.npm_config_nodedir) return [`--nodedir=${process.env.npm_config_nodedir}`];
  const prefix = resolve(dirname(process.execPath), '..');
  if (existsSync(join(prefix, 'include', 'node', 'node_api.h'))) return [`--nodedir=${prefix}`];
  return [];
}

function build(extraEnv) {
  const gyp = findNodeGyp();
  const args = ['rebuild', ...nodeDirArgs(), '--jobs=max'];
  if (process.argv.includes('--debug')) args.push('--debug');
  const cmd = gyp ? process.execPath : 'npx';
  const argv = gyp ? [gyp, ...args] : ['--no-install', 'node-gyp', ...args];
  const r = spawnSync(cmd, argv, { cwd: root, stdio: 'inherit', env: { ...process.env, ...extraEnv } });
  return r.status === 0;
}

console.error('tee-offload: building the native addon');
if (build({})) process.exit(0);
// A second try with the same settings first: a failure can be transient (another build of the same tree
// at the same moment), and the fallbacks below are several times slower.
console.error('tee-offload: native build failed; trying once more');
if (build({})) process.exit(0);
console.error(
  'tee-offload: native build failed again; retrying without OpenBLAS, oneDNN and CPU-specific flags',
);
if (build({ TEE_OFFLOAD_NO_OPENBLAS: '1', TEE_OFFLOAD_NO_ONEDNN: '1', TEE_OFFLOAD_PORTABLE: '1' })) {
  console.error('tee-offload: built with the portable fallbacks (slower GEMM and convolution)');
  process.exit(0);
}
console.error(
  'tee-offload: the native addon could not be built. It needs a C++17 compiler, make and python3 ' +
    '(node-gyp). Install them and run `npm run build`.',
);
process.exit(1);
