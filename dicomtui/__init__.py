"""dicomtui: send and receive DICOM objects from the terminal."""

__version__ = "0.1.0"
