"""Every Python family module, imported explicitly so that registration runs."""
from . import vgg  # noqa: F401
