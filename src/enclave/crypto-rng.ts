// The trusted process's randomness (masks, Freivalds vectors, stochastic rounding): the CryptoRng of
// verify/, re-exported here because enclave code is its main user. See src/verify/crypto-rng.ts.
export { CryptoRng, isCryptoRng } from '../verify/crypto-rng.js';
