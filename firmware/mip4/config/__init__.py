"""The config layer: the daemon's settings (JSON shape) over the core's checked configuration."""
