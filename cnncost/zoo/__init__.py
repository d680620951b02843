"""The built-in architectures."""
from .registry import ARCHS, Arch, arch_info, get_arch, list_archs, register_arch

__all__ = ["ARCHS", "Arch", "arch_info", "get_arch", "list_archs", "register_arch"]
