"""Carry the series to another kernel version, with a conflict report a person can act on.

    state.py     what the user asked for, the steps, the conflict: state.json (versioned)
    engine.py    rebase / --continue / --abort, applying, finishing, range-diff
    conflict.py  describing a conflict: regions, patch hunks, history, base diff
    report.py    report.txt / report.json, the terminal summary, the --all table

The kernel named on the command line is resolved by ``l2wg.resolve``; a new
point release is imported from its line's tree by ``l2wg.tree_import``.
"""

from .conflict import conflict_regions, describe_conflict, parse_patch
from .engine import (abort_rebase, continue_rebase, export_patches, force_abort, range_diff,
                     rebase, rebase_all)
from .report import report_text, summary, table, write_report
from .state import (FORMAT, Conflict, ConflictFile, Hunk, Rebase, RebaseOptions, StateError,
                    Step)

__all__ = ["FORMAT", "Conflict", "ConflictFile", "Hunk", "Rebase", "RebaseOptions",
           "StateError", "Step", "abort_rebase", "conflict_regions", "continue_rebase",
           "describe_conflict", "export_patches", "force_abort", "parse_patch", "range_diff",
           "rebase", "rebase_all", "report_text", "summary", "table", "write_report"]
