"""A small feature pyramid: bottom-up convs, 1x1 laterals, a top-down path of upsample-and-add.
`cnncost check docs/examples/fpn.yaml --against docs/examples/fpn.py:build` (docs/import.md)."""
import torch.nn as nn
import torch.nn.functional as F


class FPN(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.c2 = nn.Conv2d(8, 16, 3, stride=2, padding=1)
        self.c3 = nn.Conv2d(16, 32, 3, stride=2, padding=1)
        self.lat1 = nn.Conv2d(8, 8, 1)
        self.lat2 = nn.Conv2d(16, 8, 1)
        self.lat3 = nn.Conv2d(32, 8, 1)
        self.head = nn.Conv2d(8, 4, 3, padding=1)

    def forward(self, x):
        x1 = F.relu(self.c1(x))
        x2 = F.relu(self.c2(x1))
        x3 = F.relu(self.c3(x2))
        p3 = self.lat3(x3)  # runs lat3, lat2, lat1: top-down
        p2 = self.lat2(x2) + F.interpolate(p3, scale_factor=2.0, mode="nearest")
        p1 = self.lat1(x1) + F.interpolate(p2, scale_factor=2.0, mode="nearest")
        return self.head(p1)


def build():
    return FPN()
