"""MedShift: implicit conditional transport for X-ray domain adaptation."""

__version__ = "0.1.0"
