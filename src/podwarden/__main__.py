"""`python -m podwarden`: the same command line as the `podwarden` script."""

from podwarden.cli import main

main()
