// The shape AlexNet and VGG share: features (Sequential) → avgpool → flatten → classifier (Sequential),
// with torchvision's child names `features`, `avgpool`, `classifier`.
import type { AdaptiveAvgPool2d } from '../nn/adaptive-avg-pool.js';
import { Flatten } from '../nn/flatten.js';
import { Module } from '../nn/module.js';
import type { Sequential } from '../nn/sequential.js';
import type { Tensor } from '../tensor/tensor.js';

export class ClassifierNet extends Module {
  readonly features: Sequential;
  readonly avgpool: AdaptiveAvgPool2d;
  readonly classifier: Sequential;
  // torch.flatten in torchvision's forward: not a child, so not in the state names.
  private readonly flatten = new Flatten();

  constructor(features: Sequential, avgpool: AdaptiveAvgPool2d, classifier: Sequential) {
    super();
    this.features = this.registerModule('features', features);
    this.avgpool = this.registerModule('avgpool', avgpool);
    this.classifier = this.registerModule('classifier', classifier);
  }

  // x [N,3,H,W] → logits [N,K]
  async forward(x: Tensor): Promise<Tensor> {
    let y = await this.features.forward(x);
    y = await this.avgpool.forward(y);
    y = await this.flatten.forward(y);
    return this.classifier.forward(y);
  }

  // dlogits [N,K] → dx [N,3,H,W]
  async backward(dy: Tensor): Promise<Tensor> {
    let d = await this.classifier.backward(dy);
    d = await this.flatten.backward(d);
    d = await this.avgpool.backward(d);
    return this.features.backward(d);
  }
}
