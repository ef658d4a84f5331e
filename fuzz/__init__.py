"""Fuzz targets for podwarden's pure cores; `python -m fuzz --seconds N` runs them."""
