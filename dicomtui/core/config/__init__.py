"""The config file: its schema, reading and editing it, and the limits on settings."""
