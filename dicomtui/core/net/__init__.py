"""Every use of pynetdicom's private internals, and nothing else (checked by ``seam``)."""
