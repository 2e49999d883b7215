"""Lua plugin panels: manifests, capabilities, permissions, audit, discovery and the sandbox."""
