"""``python -m graphsvc``."""

from graphsvc.cli import main

main()
