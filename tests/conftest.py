"""Test-wide settings: hypothesis without per-example deadlines (CI machines are slow and shared)."""

from hypothesis import settings

settings.register_profile("mip4", deadline=None, print_blob=True)
settings.load_profile("mip4")
