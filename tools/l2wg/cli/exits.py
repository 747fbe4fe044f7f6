"""The exit status of each kind of failure, as ``l2wg --help`` documents it."""

#: The exit status of each kind of failure (errors.L2wgError.kind), as EPILOG says.
EXIT_CODES = {"failure": 1, "bad input": 2, "missing tool": 3, "fetch": 4, "build": 5,
              "check": 6}
EXIT_INTERNAL = 70
EXIT_INTERRUPTED = 130
