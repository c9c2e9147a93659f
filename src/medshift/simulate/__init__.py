"""X-DigiSkull-like benchmark simulator (../shared/SIMULATOR.md).

One analytic head phantom per subject, one exact chord-length pass per (subject, view), and
five cheap image-formation functions of the same chord maps, so that every class of a pair
is aligned by construction. Units: cm and keV internally, mm in DICOM.
"""
