"""The console's built-in screens."""
