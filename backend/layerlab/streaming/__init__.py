"""LayerLab streaming package."""
