"""``python -m repro`` is the ``repro`` command."""

from .cli import main

main()
