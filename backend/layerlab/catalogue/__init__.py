"""LayerLab catalogue package."""
