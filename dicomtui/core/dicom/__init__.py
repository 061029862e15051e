"""DICOM itself: UIDs, tables, encoding, files, file meta, transcoding, inspection."""
