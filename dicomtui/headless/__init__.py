"""The headless commands: storescp, storescu and echo, printing the event stream."""
