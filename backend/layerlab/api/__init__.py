"""LayerLab api package."""
