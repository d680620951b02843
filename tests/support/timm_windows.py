"""timm's window partition and reverse (swin_transformer and gcvit write the same two functions),
for the importer tests' window-attention modules: the windows of a channels-last map folded into
the batch, and back."""
from __future__ import annotations


def window_partition(x, ws: int):
    """(N, H, W, C) -> (N*nW, ws, ws, C)."""
    B, H, W, C = x.shape
    x = x.view(B, H // ws, ws, W // ws, ws, C)
    return x.permute(0, 1, 3, 2, 4, 5).contiguous().view(-1, ws, ws, C)


def window_reverse(windows, ws: int, H: int, W: int):
    """(N*nW, ws, ws, C) -> (N, H, W, C)."""
    C = windows.shape[-1]
    x = windows.view(-1, H // ws, W // ws, ws, ws, C)
    return x.permute(0, 1, 3, 2, 4, 5).contiguous().view(-1, H, W, C)
