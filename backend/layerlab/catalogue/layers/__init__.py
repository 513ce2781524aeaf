"""Importing this package registers every layer kind in catalogue.base.LAYERS."""

from . import conv, core, merge, norm, recurrent  # noqa: F401
