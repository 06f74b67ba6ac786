"""Run a command as the packaged appliance meets production: no Python installation
visible, and the systemd unit's NoNewPrivileges= and MemoryDenyWriteExecute=.

    python sandbox.py [--mdwe] [--hide PATH]... -- COMMAND...

`--hide` covers a folder with an empty tmpfs (a file with /dev/null) in a private mount
namespace (`unshare --mount`, as root). `--mdwe` refuses writable-and-executable memory
with the kernel's PR_SET_MDWE (Linux 6.3+), the same rule systemd applies; both it and
no-new-privileges are kept across exec. Exit 75 when the kernel cannot do what is asked.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import sys

PR_SET_NO_NEW_PRIVS = 38
PR_SET_MDWE = 65
PR_MDWE_REFUSE_EXEC_GAIN = 1
UNSUPPORTED = 75

# Runs inside the new namespace: hide each path, prove no Python is left, run the command.
HIDE = """
while [ "$1" != -- ]; do
    if [ -d "$1" ]; then mount -t tmpfs -o ro,size=4k tmpfs "$1"; else mount --bind /dev/null "$1"; fi
    shift
done
shift
if python3 -c '' 2>/dev/null; then echo "sandbox: python3 still runs" >&2; exit 70; fi
exec "$@"
"""


def _prctl(option: int, value: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(option, value, 0, 0, 0) != 0:
        print(f"sandbox: prctl({option}): {os.strerror(ctypes.get_errno())}", file=sys.stderr)
        sys.exit(UNSUPPORTED)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mdwe", action="store_true")
    parser.add_argument("--hide", action="append", default=[])
    parser.add_argument("command", nargs="+")
    args = parser.parse_args()
    _prctl(PR_SET_NO_NEW_PRIVS, 1)
    if args.mdwe:
        _prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN)
    if not args.hide:
        os.execvp(args.command[0], args.command)
    argv = ["unshare", "--mount", "--", "sh", "-c", HIDE, "sh", *args.hide, "--", *args.command]
    os.execvp("unshare", argv)


if __name__ == "__main__":
    main()
