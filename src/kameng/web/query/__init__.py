"""Order lookup pages."""
