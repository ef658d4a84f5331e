"""Developer tools for deploy/: run the real helm on the chart, render the plain manifests.

Not part of the podwarden package (the product never imports it): `make manifests` and
the chart's tests use it.
"""
