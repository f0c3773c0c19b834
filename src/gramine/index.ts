// Gramine (SGX) deployment of the trusted process: the manifest template and Makefile, the enclave
// size and thread estimates behind them, the launchers, and the /dev/attestation pseudo-files.
export { type ActivationProfile, activationProfile } from './activation-tracer.js';
export {
  ATTESTATION_DIR,
  deriveSealingKey,
  detectGramine,
  type GramineHost,
  getQuote,
  quoteReportData,
  readAttestationType,
  readQuote,
  readSealingKeyRaw,
  SEALING_KEY_BYTES,
  type SgxSealingKeyName,
  USER_REPORT_DATA_BYTES,
  writeUserReportData,
} from './attestation-files.js';
export {
  ADDON_PATH,
  CLI_PATH,
  type DeploymentOptions,
  type DeploymentPlan,
  planDeployment,
  writeDeployment,
} from './deployment.js';
export { type EnclaveConfig, enclaveArgs, LAUNCHERS, type LauncherKind } from './enclave-args.js';
export {
  type EnclaveMode,
  type EnclaveSizeEstimate,
  estimateEnclaveSize,
  nextPowerOfTwo,
} from './enclave-size.js';
export {
  defaultAppDir,
  type EnclaveProcess,
  findOnPath,
  GRAMINE_INSTALL_HINT,
  type LaunchOptions,
  type LaunchPlan,
  launchEnclave,
  planLaunch,
} from './launcher.js';
export { APP_NAME, SEALING_KEY_NAME, TEMPLATE_FILE } from './manifest-template.js';
export { type ThreadBudget, threadBudget } from './thread-budget.js';
