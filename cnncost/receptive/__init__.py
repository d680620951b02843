"""Receptive fields: for every row of the compiled graph, which input pixels each output position
depends on, per spatial axis of the input map ((l), (h, w) or (d, h, w): what follows says h and
w); exact. Past a layer whose output is not a channels-first map of the input's positions (tokens,
a permute: `rules.leaves_the_map`) the field is not defined, and every later row says so.

The model, per axis of every tensor: position u (any integer: positions beyond the map stand for
padding) depends on the input pixels `lo(u)` ... `hi(u)` (pixel i's centre is at coordinate i).
Convolutions and pools move every position by the same step, so lo(u) = lo(0) + u * jump. After
an upsampling the step is a fraction of a pixel and which pixels a position reads depends on the
position modulo the upsampling factor: the model keeps one (lo, hi) per phase of a period P, and
lo(u + P) = lo(u) + T pixels. Every pixel number is an integer; the effective stride `T / P` is a
`fractions.Fraction` where it is not whole.

In two dimensions a tensor keeps a few classes of paths, each a pair of such axes: position (u, v)
depends on the union over the classes of (rows of u) x (columns of v), and a class that reads no
row at u adds no column at v (a transposed conv's gap on one axis); see `classes`. So a position's
extent is exact on any DAG, and a row's figures come from the extents of its positions.

Per row and axis:

- `receptive_field`: hi - lo + 1, the largest over the positions of the row (all equal unless an
  upsampling made them vary; then the row's `note` gives the range and the period);
- `effective_stride` (the jump): input pixels per output position, T / P;
- `center_offset`: the centre (lo(0) + hi(0)) / 2 of position 0, in input pixel coordinates
  (negative with padding; a half where the field is even).

Image borders are not clipped (the usual convention: AlexNet's pool5 is 195, VGG-16's 212, ResNet-
50's last block 483, more than the image: padding counts as pixels beyond the border, and a
position beyond a map reads on as the layer's arithmetic says); `ReceptiveField.extent(i, j)`
gives the box around the pixels of one position, (None, None) where it reads none, and where no
padding is in its cone that is exactly what the gradient of that output position reaches
(tests/receptive/test_receptive.py measures it through the torch backend on random nets, and compares every
phase with sets of pixels built from the layers' reads alone).

Rows that have reduced a whole map (global or 1x1 adaptive pooling, flatten, linear, and every row
after a gate broadcast over H x W, such as squeeze-and-excitation's) see the same pixels at every
position: their field is that span, clipped to the image (the image's size when it covers it:
`whole_input`); their stride still follows the feature map.

One rule per layer class, in `rules.RULES` (`tests/layers/test_completeness.py` names any
registered layer type without one); the per-axis algebra and the classes of paths are in
`paths.py`, a row's figures in `field.py`, the DataFrame in `frame.py`:

- windows (conv, pools, pixel unshuffle): output v reads input positions v*stride - pad +
  m*dilation, m < kernel;
- resampling (transposed conv, upsample, pixel shuffle, adaptive pools): the input positions
  PyTorch's arithmetic reads for output v (an upsampling's source index; a transposed conv's
  taps, (v + pad - m*dilation) / stride where whole; an adaptive pool's bin); a 1-position axis
  upsampled is read by every output (stride 0);
- pad and crop shift the positions; element-wise layers (activations, norms, dropout, channel
  ops) change nothing: normalisation statistics are not counted as a dependence (with batch or
  instance statistics every output depends on every pixel, which no receptive field reports);
- merges (add, mul, concat): per position, the union of their inputs' sets of pixels (so the
  largest over all paths of a DAG, and larger than each path's where the paths are not centred
  alike). Where the inputs' strides differ each position is still exact, but the row has no one
  stride or period: its stride is the largest field's, its field the largest over the map's
  positions, and `note` says so on that row and every row after it.

Channels are not tracked: a pixel shuffle reads input position v // r whatever the channel, so one
that undoes a pixel unshuffle with no channel-mixing layer between reports the unshuffle's field,
an upper bound (each output pixel then reads one input pixel).
"""
from .field import ReceptiveField, receptive_field
from .frame import FRAME_COLUMNS, receptive_frame

__all__ = ["receptive_field", "receptive_frame", "ReceptiveField", "FRAME_COLUMNS"]
