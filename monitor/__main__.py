"""`python -m monitor` runs the leakmon CLI."""

from monitor.cli import main

main()
