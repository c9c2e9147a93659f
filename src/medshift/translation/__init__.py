"""MedShift transport between classes, and the SDEdit baseline."""
