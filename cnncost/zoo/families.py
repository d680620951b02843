"""Every Python family module: importing this module registers them all (`registry` imports it
when a lookup needs every architecture)."""
from . import efficientnet, inception, mobilenet, parnet, resnet, vgg  # noqa: F401
# torchvision's families and twins (docs/zoo-torchvision.md)
from . import convnext, densenet, efficientnet_v2, mnasnet, mobilenet_v3, regnet, shufflenet  # noqa: F401
from . import squeezenet, tv_twins  # noqa: F401
# segmentation (docs/zoo-segmentation.md; U-Net is specs/unet.yaml)
from . import segmentation  # noqa: F401
