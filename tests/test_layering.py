"""The analysis layer must run on real neural data without a deep-learning stack."""

import subprocess
import sys


def test_analysis_does_not_import_torch():
    code = (
        "import sys, pkgutil, importlib, ensembles.analysis as a\n"
        "for m in pkgutil.walk_packages(a.__path__, 'ensembles.analysis.'):\n"
        "    importlib.import_module(m.name)\n"
        "assert 'torch' not in sys.modules, 'torch was imported by ensembles.analysis'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_top_level_import_is_light():
    code = "import sys, ensembles; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
