"""The sender (Storage SCU): settings, planning, associations, the send job, echo."""
