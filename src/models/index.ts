// The model zoo: torchvision's AlexNet, VGG and ResNet with their exact state names.
export { alexnet } from './alexnet.js';
export { ClassifierNet } from './classifier-net.js';
export type { ModelOptions } from './options.js';
export {
  createModel,
  describeModel,
  isModelName,
  type ModelDescription,
  type ModelName,
  modelNames,
} from './registry.js';
export { ResNet, resnet } from './resnet.js';
export { vgg } from './vgg.js';
