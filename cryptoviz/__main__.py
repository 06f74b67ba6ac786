"""`python -m cryptoviz` entry point."""

from cryptoviz.cli import main

raise SystemExit(main())
