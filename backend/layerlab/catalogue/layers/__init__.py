"""Importing this package registers every layer kind in catalogue.base.LAYERS."""

from . import attention, conv, core, merge, norm, recurrent, seq2seq, transformer  # noqa: F401
