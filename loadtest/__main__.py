"""`python -m loadtest`: see loadtest/cli.py and docs/capacity.md."""

from .cli import main

raise SystemExit(main())
