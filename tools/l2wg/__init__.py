"""l2wg: carry the l2wireguard patch series across kernel versions.

The package is a library with a thin command line (cli/) on top.  Data
flows one way through the pipeline; every stage takes the previous stage's
record (a dataclass written to disk as JSON next to its artifacts) and
returns its own:

    kernels.toml -> Kernel -> Source -> Tree -> Config -> Build -> Run
"""

__version__ = "0.1.0"
