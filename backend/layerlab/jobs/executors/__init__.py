"""LayerLab jobs executors package."""
