"""Payment gateway adapters behind one protocol (base.py) and a registry."""
