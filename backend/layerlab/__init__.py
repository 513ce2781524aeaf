"""LayerLab: a neural-network playground service for the deep-learning chapter."""

__version__ = "0.1.0"
