"""LayerLab jobs package."""
