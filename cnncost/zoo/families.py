"""Every Python family module, imported explicitly so that registration runs."""
from . import efficientnet, inception, mobilenet, parnet, resnet, vgg  # noqa: F401
