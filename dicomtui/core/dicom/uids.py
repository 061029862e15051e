"""The UIDs the engine names itself, as plain strings (no pydicom import needed)."""

from __future__ import annotations

IMPLICIT_LITTLE = "1.2.840.10008.1.2"
EXPLICIT_LITTLE = "1.2.840.10008.1.2.1"
EXPLICIT_BIG = "1.2.840.10008.1.2.2"
DEFLATED_LITTLE = "1.2.840.10008.1.2.1.99"

VERIFICATION_SOP_CLASS = "1.2.840.10008.1.1"
