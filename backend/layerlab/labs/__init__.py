"""LayerLab labs package."""
