"""docs/import.md's example module: `cnncost import docs/examples/my_models.py:build_net`.

The same network as docs/examples/my_net.yaml, so `cnncost check docs/examples/my_net.yaml
--against ...` agrees.
"""
from torch import nn


def build_net() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d(1),
        nn.Flatten(), nn.Linear(64, 10))
