"""systems/zab."""
