"""Compatibility shim: the demo workflow is :mod:`ensembles.workflows.demo` (kept for notebooks that import
``ensembles.report.demo``)."""

from ensembles.workflows.demo import MODELS, SCALES, demo_plan, run_demo

__all__ = ["MODELS", "SCALES", "demo_plan", "run_demo"]
