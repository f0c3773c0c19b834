// Our side of a training step: placeholder until the models land.
import { TeeError } from '../errors.js';
import type { Prepared } from './sampler.js';
import type { TrainSpec } from './workloads.js';

export async function prepareTrain(spec: TrainSpec): Promise<Prepared> {
  throw new TeeError('E_NATIVE', `model ${spec.model} is not available yet`);
}
