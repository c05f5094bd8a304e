"""Inverted dropout at training and at test time (docs/course/training-dropout-batchnorm.md).

The dropout layer netdsl builds for `dropout(0.5)` in examples/course/mlp.net,
applied to a vector of ones: in training mode it zeroes about half of the
units and doubles the others (scale 1/(1-p)), so the expected output equals
the input; in eval mode it passes the input through unchanged — no rescaling
at test time is needed. Run from the repository root:

    python examples/course/inverted_dropout.py
"""
import torch

import netdsl

model = netdsl.load("examples/course/mlp.net", params={"depth": 1, "dropout": 0.5}).to_torch()
drop = next(m for m in model.modules() if isinstance(m, torch.nn.Dropout))
torch.manual_seed(0)
x = torch.ones(12)
print(f"the layer: {drop}")
print(f"train mode: {drop.train()(x).tolist()}")
print(f"mean over 10,000 training passes: {torch.stack([drop(x) for _ in range(10_000)]).mean():.4f}")
print(f"eval mode:  {drop.eval()(x).tolist()}")
