"""``python -m dlddrivers.retrieve``: the command line of :mod:`dlddrivers.retrieve.cli`."""

from .cli import main

raise SystemExit(main())
