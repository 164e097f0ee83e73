"""`python -m parley` is the `parley` command."""

from parley.ui.cli import main

main()
