"""The root of glimpse's exception hierarchy; each package derives its own family."""

from __future__ import annotations

__all__ = ["GlimpseError"]


class GlimpseError(Exception):
    """Base class for every error glimpse raises on purpose."""
