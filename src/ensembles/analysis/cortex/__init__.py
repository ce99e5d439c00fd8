"""Published cortical reference values, each with the recipe that computes the matching model statistic like for like.

The table ``ensembles/data/cortex_reference.csv`` (shipped with the package; :func:`load_cortex_reference`) holds
one row per published value or qualitative finding: species, area, study, the stimulus set and its kind, the
measure, lifetime or population, the value as the source states it (a value ± SD, a range, or a bound:
``comparison``), the numbers of neurons and stimuli it rests on, the response variable and criterion, the citation,
**where the value was read** (``source_location``) and its ``verification``:

``verified``
    the value (or finding) was read in the primary source at ``source_location`` (an abstract, a figure legend);
``partly verified``
    the value was read, part of its definition was not (e.g. whether an index is a or 1 − a);
``unverified``
    secondary knowledge; kept as context, never in the default comparison.

Each row with a numeric value carries its **recipe**: the toolkit function (``recipe_function``: one of
:data:`RECIPE_FUNCTIONS`) and its parameters (``recipe_params``, JSON); which units it runs on
(``recipe_neuroids``: ``all``, or ``responsive`` = units that respond to at least one of the drawn stimuli, since a
recorded neuron is one that responds); what the recording must hold (``recipe_requires``: ``rate_hz`` for a
threshold in spikes/s, ``no_spontaneous`` for a convention that needs responses without spontaneous firing); the
stimulus class the value holds for (``recipe_stimulus_class``); the preprocessing (``recipe_preprocessing``:
``zscore``); and the ``aggregate`` the source reports (``mean`` or ``median`` over neurons for a lifetime measure,
over stimuli for a population measure; ``value`` for a single number; ``fraction_below:t`` / ``fraction_above:t``).
``default_comparison`` marks the rows whose recipe reproduces the source's procedure (measure and convention,
population, numbers of stimuli and units, stimulus class, preprocessing) and whose facts were read in the source;
``default_reason`` says why a row is in the default or what keeps it out.

:func:`compare_to_cortex` runs every selected recipe on each layer of each recording at the source's sample sizes
(repeated draws; the model value comes with the central 95 % of the draws) and returns one row per (recording,
layer, reference) with what is matched and what is not.  No torch, no matplotlib here: the figure is
:func:`ensembles.plot.cortex.plot_cortex_comparison`.

Modules: :mod:`.reference` (the table and its recipes in words), :mod:`.compare` (running the recipes).
"""

from __future__ import annotations

from .compare import COMPARISON_COLUMNS as COMPARISON_COLUMNS  # the columns of compare_to_cortex's table
from .compare import READER_COLUMNS as READER_COLUMNS  # the columns a report shows
from .compare import compare_to_cortex
from .reference import COMPARISON_KINDS as COMPARISON_KINDS
from .reference import (
    RECIPE_FUNCTIONS,
    REFERENCE_COLUMNS,
    VERIFICATION_LEVELS,
    load_cortex_reference,
    recipe_text,
)

__all__ = [
    "REFERENCE_COLUMNS",
    "RECIPE_FUNCTIONS",
    "VERIFICATION_LEVELS",
    "load_cortex_reference",
    "compare_to_cortex",
    "recipe_text",
]
