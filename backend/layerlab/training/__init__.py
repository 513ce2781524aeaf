"""LayerLab training package."""
