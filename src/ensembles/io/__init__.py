"""Exchange with the formats and tools of the field.

* :mod:`ensembles.io.nwb` -- :func:`export_nwb` / :func:`import_nwb`: Neurodata Without Borders files (optional extra
  ``nwb``; pynwb is imported only when these functions run).
* :mod:`ensembles.io.interop` -- :func:`to_rsatoolbox`, :func:`to_pynapple`, :func:`to_brainscore_assembly`,
  :func:`to_allen_tables`.

No torch here: this layer runs on real neural data without a deep-learning stack.
"""

from .interop import to_allen_tables, to_brainscore_assembly, to_pynapple, to_rsatoolbox
from .nwb import NWBImportWarning, export_nwb, import_nwb

__all__ = [
    "NWBImportWarning", "export_nwb", "import_nwb", "to_allen_tables", "to_brainscore_assembly", "to_pynapple",
    "to_rsatoolbox",
]  # fmt: skip
