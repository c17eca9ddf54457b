"""``python -m procsim``."""

from procsim.cli import main

main()
