"""Importing this package registers every layer kind in catalogue.base.LAYERS."""

from . import core, merge  # noqa: F401
