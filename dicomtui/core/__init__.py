"""The DICOM engine: events, bus, receiver, sender. Never imports Textual."""
