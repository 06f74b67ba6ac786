"""Entry script of the single binary (`dist/cryptoviz`, built by scripts/build_binary.py).

granian runs the app in a worker started through multiprocessing. On Linux with Python
< 3.14 that is a fork, which needs nothing here; a spawn start (the default elsewhere, and
granian's choice wherever the default is forkserver) re-runs this executable, and
`freeze_support()` turns that run into the worker instead of a second CLI.
"""

import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()
    from cryptoviz.cli import main

    sys.exit(main())
