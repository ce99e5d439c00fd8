"""Synthetic populations with known ensembles (numpy only): ground truth for the ensemble detectors.

Three generators, all returning arrays of shape (n_presentations, n_neuroids) — rows are presentations (time bins
for neural data, stimuli for network recordings), columns are neuroids:

- :func:`planted_ensembles` — a population with planted cell assemblies, with the knobs of the Mölter, Avitan &
  Goodhill (2018) benchmark: number of neuroids, number of assemblies, assembly size, overlap between assemblies,
  signal strength (event amplitude, event rate, member participation), background rate and noise.
- :func:`null_population` — assembly-free populations: independent neuroids (``"iid"``) or neuroids sharing one
  population-wide gain fluctuation (``"shared-gain"``), the two nulls used to measure false-positive rates.
- :func:`category_population` — a labelled population where each class drives a known set of units, used to check
  the category-ensemble rules of :func:`ensembles.analysis.ensembles.category_ensembles`.
- :func:`planted_blocks` — planted assemblies and category structure together, generated in row blocks so that a
  recording of any size (10,000 neuroids x 100,000 presentations and more) can be written to disk block by block.

References
----------
Mölter, J., Avitan, L. & Goodhill, G. J. (2018). Detecting neural assemblies in calcium imaging data.
BMC Biology 16:143.
Lopes-dos-Santos, V., Ribeiro, S. & Tort, A. B. L. (2013). Detecting cell assemblies in large neuronal populations.
J Neurosci Methods 220:149-166.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ensembles.errors import ParameterError

__all__ = ["PlantedTruth", "planted_ensembles", "null_population", "category_population", "planted_blocks"]

_KINDS = ("poisson", "graded")


@dataclass(frozen=True)
class PlantedTruth:
    """Ground truth of a synthetic population.

    Attributes
    ----------
    members : ndarray of bool, shape (n_ensembles, n_neuroids)
        ``members[k, i]`` is True when neuroid ``i`` belongs to ensemble ``k``.
    activations : ndarray of bool, shape (n_presentations, n_ensembles)
        ``activations[t, k]`` is True when ensemble ``k`` is active on presentation ``t`` (for
        :func:`category_population`, when presentation ``t`` belongs to class ``k``).
    labels : ndarray of int, shape (n_presentations,) or None
        Class labels (``category_population`` only).
    params : dict
        The generator's arguments, for provenance.
    """

    members: np.ndarray
    activations: np.ndarray
    labels: np.ndarray | None = None
    params: dict = field(default_factory=dict)

    @property
    def sizes(self) -> np.ndarray:
        """Number of members of each ensemble."""
        return self.members.sum(axis=1)


# parameter -> (type, lower bound, upper bound or None, lower bound excluded); shared by the three generators
_RULES = {
    "n_neuroids": (int, 1), "n_presentations": (int, 1), "n_ensembles": (int, 0), "n_classes": (int, 1),
    "n_per_class": (int, 1), "ensemble_size": (int, 1),
    "overlap": (float, 0.0, 0.99), "strength": (float, 0.0), "activation_rate": (float, 0.0, 1.0, True),
    "participation": (float, 0.0, 1.0, True), "background_rate": (float, 0.0), "heterogeneity": (float, 0.0),
    "gain_sd": (float, 0.0), "noise": (float, 0.0), "sparsity": (float, 0.0, 1.0),
    "class_size": (int, 0), "class_strength": (float, 0.0), "block_rows": (int, 1),
}


def _check_int(name: str, value, lo: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < lo:
        raise ParameterError(f"The {name!r} parameter must be an int >= {lo}. Got {value!r} instead.")
    return int(value)


def _check_float(name: str, value, lo: float, hi: float | None = None, lo_open: bool = False) -> float:
    ok = isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)
    if ok:
        v = float(value)
        ok = np.isfinite(v) and (v > lo if lo_open else v >= lo) and (hi is None or v <= hi)
    if not ok:
        rng = f"{'>' if lo_open else '>='} {lo}" + (f" and <= {hi}" if hi is not None else "")
        raise ParameterError(f"The {name!r} parameter must be a finite number {rng}. Got {value!r} instead.")
    return float(value)


def _checked(args: dict) -> dict:
    """The generator arguments in ``args`` (a call's ``locals()``) that :data:`_RULES` or ``kind`` cover, checked
    and converted to plain int/float/str, in argument order; they are also the ``params`` of the truth."""
    out = {}
    for name, value in args.items():
        if name == "kind":
            if value not in _KINDS:
                raise ParameterError(f"The 'kind' parameter must be one of 'poisson', 'graded'. Got {value!r} instead.")
            out[name] = value
        elif name in _RULES:
            typ, *bounds = _RULES[name]
            out[name] = (_check_int if typ is int else _check_float)(name, value, *bounds)
    return out


def _check_size(size) -> tuple[int, int]:
    if isinstance(size, int | np.integer) and not isinstance(size, bool):
        lo = _check_int("size", size, 1)
        return lo, lo
    if isinstance(size, tuple | list) and len(size) == 2:
        lo, hi = _check_int("size", size[0], 1), _check_int("size", size[1], 1)
        if lo > hi:
            raise ParameterError(f"The 'size' parameter must be an int or a (min, max) pair with min <= max. Got {size!r} instead.")
        return lo, hi
    raise ParameterError(f"The 'size' parameter must be an int or a (min, max) pair. Got {size!r} instead.")


def _background(rng: np.random.Generator, n_rows: int, n: int, rate: float, heterogeneity: float) -> np.ndarray:
    """A writeable (n_rows, n) drive holding per-neuroid background rates: gamma distributed with mean ``rate`` and
    coefficient of variation ``heterogeneity`` (0 gives identical rates)."""
    if heterogeneity == 0 or rate == 0:
        base = np.full(n, rate)
    else:
        shape = 1.0 / heterogeneity**2
        base = rng.gamma(shape, rate / shape, size=n)
    return np.broadcast_to(base, (n_rows, n)).copy()


def _observe(rng, drive: np.ndarray, kind: str, noise: float) -> np.ndarray:
    """Turn a non-negative drive into observed activity (Poisson counts, or rectified Gaussian)."""
    if kind == "poisson":
        return rng.poisson(drive).astype(np.float64)
    return np.maximum(drive + noise * rng.standard_normal(drive.shape), 0.0)


def _planted_members(rng, n_neuroids: int, n_ensembles: int, lo: int, hi: int, overlap: float) -> np.ndarray:
    """Assembly memberships: sizes uniform in [lo, hi]; for every assembly after the first, round(overlap * size)
    members are drawn from units already in earlier assemblies, the rest from units in no assembly yet."""
    members = np.zeros((n_ensembles, n_neuroids), dtype=bool)
    used = np.zeros(n_neuroids, dtype=bool)
    for k in range(n_ensembles):
        size = int(rng.integers(lo, hi + 1))
        n_shared = int(round(overlap * size)) if k > 0 else 0
        pool_used = np.flatnonzero(used)
        n_shared = min(n_shared, pool_used.size)
        pool_free = np.flatnonzero(~used)
        n_new = size - n_shared
        if n_new > pool_free.size:
            raise ParameterError(
                f"The 'n_neuroids' parameter ({n_neuroids}) is too small for {n_ensembles} ensembles of up to "
                f"{hi} members with overlap {overlap}; use more neuroids, fewer or smaller ensembles."
            )
        shared = rng.choice(pool_used, n_shared, replace=False) if n_shared else np.array([], dtype=int)
        new = rng.choice(pool_free, n_new, replace=False)
        members[k, shared] = True
        members[k, new] = True
        used[new] = True
    return members


def planted_ensembles(
    n_neuroids: int = 500,
    n_presentations: int = 5000,
    n_ensembles: int = 8,
    size: int | tuple[int, int] = (20, 40),
    overlap: float = 0.1,
    *,
    strength: float = 3.0,
    activation_rate: float = 0.05,
    participation: float = 0.9,
    background_rate: float = 1.0,
    heterogeneity: float = 0.3,
    noise: float = 0.5,
    kind: str = "poisson",
    random_state: int | np.random.Generator | None = None,
) -> tuple[np.ndarray, PlantedTruth]:
    """A population with planted cell assemblies (Mölter et al. 2018 knobs).

    Generative model: neuroid ``i`` has a background drive ``b_i`` (gamma distributed, mean ``background_rate``,
    coefficient of variation ``heterogeneity``).  Each assembly ``k`` is independently active on a presentation with
    probability ``activation_rate``; when active, each of its members joins the event with probability
    ``participation`` and its drive increases by ``strength * g``, where ``g`` is a per-event gain (gamma, mean 1,
    coefficient of variation ``noise``; ``kind="poisson"`` only).  The observed activity is

    - ``kind="poisson"``: spike counts ``x ~ Poisson(drive)`` (neural-like, non-negative integers stored as float);
    - ``kind="graded"``: ``x = max(drive + noise * eps, 0)`` with ``eps ~ N(0, 1)`` (ReLU-network-like).

    Parameters
    ----------
    n_neuroids, n_presentations : int
        Population size and number of presentations (time bins).
    n_ensembles : int
        Number of planted assemblies (0 gives an assembly-free population).
    size : int or (int, int)
        Assembly size, or the inclusive range sizes are drawn from uniformly.
    overlap : float in [0, 1)
        Fraction of each assembly's members (after the first) taken from units already in earlier assemblies.
    strength : float
        Increase of a participating member's drive during an event (in background-rate units when
        ``background_rate`` is 1).
    activation_rate : float in (0, 1]
        Probability that an assembly is active on a presentation.
    participation : float in (0, 1]
        Probability that a member takes part in a given event.
    background_rate : float
        Mean background drive.
    heterogeneity : float
        Coefficient of variation of the background drive across neuroids.
    noise : float
        ``"poisson"``: coefficient of variation of the per-event gain; ``"graded"``: SD of the additive Gaussian
        noise before rectification.
    kind : {"poisson", "graded"}
    random_state : int, Generator or None

    Returns
    -------
    X : ndarray of shape (n_presentations, n_neuroids)
    truth : PlantedTruth
        ``members`` (n_ensembles, n_neuroids) and ``activations`` (n_presentations, n_ensembles).

    Examples
    --------
    >>> X, truth = planted_ensembles(200, 1000, 3, size=10, random_state=0)
    >>> X.shape, truth.members.shape, truth.sizes.tolist()
    ((1000, 200), (3, 200), [10, 10, 10])
    """
    p = _checked(locals())
    lo, hi = _check_size(size)
    rng = np.random.default_rng(random_state)
    n_neuroids, n_presentations, n_ensembles = p["n_neuroids"], p["n_presentations"], p["n_ensembles"]
    noise = p["noise"]
    members = _planted_members(rng, n_neuroids, n_ensembles, lo, hi, p["overlap"])
    drive = _background(rng, n_presentations, n_neuroids, p["background_rate"], p["heterogeneity"])
    active = rng.random((n_presentations, n_ensembles)) < p["activation_rate"]
    for k in range(n_ensembles):
        t = np.flatnonzero(active[:, k])
        idx = np.flatnonzero(members[k])
        if t.size == 0 or idx.size == 0:
            continue
        if p["kind"] == "poisson" and noise > 0:
            shape = 1.0 / noise**2
            gain = rng.gamma(shape, 1.0 / shape, size=t.size)
        else:
            gain = np.ones(t.size)
        joins = rng.random((t.size, idx.size)) < p["participation"]
        drive[np.ix_(t, idx)] += p["strength"] * gain[:, None] * joins
    X = _observe(rng, drive, p["kind"], noise)
    params = {**p, "size": (lo, hi)}
    return X, PlantedTruth(members=members, activations=active, params=params)


def null_population(
    n_neuroids: int = 500,
    n_presentations: int = 5000,
    *,
    kind: str = "poisson",
    structure: str = "iid",
    background_rate: float = 1.0,
    heterogeneity: float = 0.3,
    gain_sd: float = 0.3,
    noise: float = 0.5,
    random_state: int | np.random.Generator | None = None,
) -> np.ndarray:
    """An assembly-free population (the null of the detectors' false-positive rate).

    - ``structure="iid"``: independent neuroids with heterogeneous background drive (no correlations at all).
    - ``structure="shared-gain"``: every neuroid's drive is multiplied by one presentation-wide gain
      ``g_t`` (lognormal, SD of log gain ``gain_sd``), as from arousal or a global input-intensity change. This
      creates a single population-wide correlation mode but no assembly: a detector should report at most one
      *global* component (weights of one sign), never a sparse assembly.

    Parameters
    ----------
    n_neuroids, n_presentations : int
    kind : {"poisson", "graded"}
        Observation model, as in :func:`planted_ensembles`.
    structure : {"iid", "shared-gain"}
    background_rate, heterogeneity, noise : float
        As in :func:`planted_ensembles`.
    gain_sd : float
        SD of the log shared gain (``"shared-gain"`` only).
    random_state : int, Generator or None

    Returns
    -------
    X : ndarray of shape (n_presentations, n_neuroids)

    Examples
    --------
    >>> null_population(50, 100, random_state=0).shape
    (100, 50)
    """
    p = _checked(locals())
    if structure not in ("iid", "shared-gain"):
        raise ParameterError(f"The 'structure' parameter must be one of 'iid', 'shared-gain'. Got {structure!r} instead.")
    rng = np.random.default_rng(random_state)
    drive = _background(rng, p["n_presentations"], p["n_neuroids"], p["background_rate"], p["heterogeneity"])
    if structure == "shared-gain":
        gain_sd = p["gain_sd"]
        g = np.exp(gain_sd * rng.standard_normal(p["n_presentations"]) - gain_sd**2 / 2)
        drive *= g[:, None]
    return _observe(rng, drive, p["kind"], p["noise"])


def category_population(
    n_classes: int = 10,
    n_neuroids: int = 200,
    n_per_class: int = 100,
    *,
    ensemble_size: int = 10,
    overlap: float = 0.0,
    strength: float = 5.0,
    background_rate: float = 0.5,
    sparsity: float = 0.0,
    noise: float = 0.5,
    kind: str = "graded",
    random_state: int | np.random.Generator | None = None,
) -> tuple[np.ndarray, PlantedTruth]:
    """A labelled population where each class drives a known set of units (ground truth for category rules).

    Presentations are sorted by class (``n_per_class`` each).  Unit ``i`` has background drive ``b_i`` (gamma, mean
    ``background_rate``, CV 0.3); on presentations of class ``c`` the members of ``E_c`` get ``+ strength``.  The
    observation model is that of :func:`planted_ensembles`; with ``sparsity > 0`` a fraction ``sparsity`` of
    non-member responses is set to 0 on each presentation (ReLU-network-like silence).

    Parameters
    ----------
    n_classes : int >= 1
    n_neuroids : int
    n_per_class : int
        Presentations per class.
    ensemble_size : int
        Members driven by each class.
    overlap : float in [0, 1)
        Fraction of each class's members (after the first class) shared with earlier classes.
    strength, background_rate, noise : float
    sparsity : float in [0, 1]
    kind : {"poisson", "graded"}
    random_state : int, Generator or None

    Returns
    -------
    X : ndarray of shape (n_classes * n_per_class, n_neuroids)
    truth : PlantedTruth
        ``members`` (n_classes, n_neuroids), ``activations`` (one-hot class of each presentation) and ``labels``.

    Examples
    --------
    >>> X, truth = category_population(3, 30, 20, ensemble_size=5, random_state=0)
    >>> X.shape, truth.members.sum(axis=1).tolist(), truth.labels[:3].tolist()
    ((60, 30), [5, 5, 5], [0, 0, 0])
    """
    p = _checked(locals())
    rng = np.random.default_rng(random_state)
    n_classes, size = p["n_classes"], p["ensemble_size"]
    members = _planted_members(rng, p["n_neuroids"], n_classes, size, size, p["overlap"])
    labels = np.repeat(np.arange(n_classes), p["n_per_class"])
    drive = _background(rng, labels.size, p["n_neuroids"], p["background_rate"], 0.3)
    drive += p["strength"] * members[labels]
    X = _observe(rng, drive, p["kind"], p["noise"])
    if p["sparsity"] > 0:
        silence = (rng.random(X.shape) < p["sparsity"]) & ~members[labels]
        X[silence] = 0.0
    onehot = labels[:, None] == np.arange(n_classes)[None, :]
    return X, PlantedTruth(members=members, activations=onehot, labels=labels, params=p)


def planted_blocks(
    n_neuroids: int = 10_000,
    n_presentations: int = 100_000,
    n_ensembles: int = 10,
    size: int | tuple[int, int] = (20, 40),
    overlap: float = 0.1,
    *,
    n_classes: int = 10,
    class_size: int = 50,
    class_strength: float = 1.0,
    strength: float = 3.0,
    activation_rate: float = 0.05,
    participation: float = 0.9,
    background_rate: float = 1.0,
    heterogeneity: float = 0.3,
    noise: float = 0.5,
    block_rows: int = 8192,
    random_state: int | None = None,
):
    """A large labelled population with planted assemblies and category structure, generated in row blocks.

    The model is that of :func:`planted_ensembles` with ``kind="graded"`` (rectified Gaussian, ReLU-network-like),
    plus the class drive of :func:`category_population`: presentation ``t`` has class ``labels[t]`` (uniform over
    ``n_classes``, shuffled), and the ``class_size`` units of that class's ensemble (drawn among the units of no
    assembly, disjoint across classes) get ``+ class_strength``.  Values are float32.  Each block has its own random
    stream (spawned from ``random_state``), so any block can be regenerated alone and the result does not depend on
    how the blocks are consumed.

    Parameters
    ----------
    n_neuroids, n_presentations, n_ensembles, size, overlap, strength, activation_rate, participation,
    background_rate, heterogeneity, noise
        As in :func:`planted_ensembles`.
    n_classes : int >= 1
        Number of classes (labels).
    class_size : int >= 0
        Units driven by each class (0: labels without category structure).
    class_strength : float
        Drive added to a class's units on presentations of that class.
    block_rows : int
        Presentations per block.
    random_state : int or None

    Returns
    -------
    truth : PlantedTruth
        ``members`` (n_ensembles, n_neuroids) of the assemblies, ``activations`` (n_presentations, n_ensembles),
        ``labels`` (n_presentations,); ``params["class_members"]`` is the (n_classes, n_neuroids) category
        structure.
    blocks : iterator of (int, ndarray)
        ``(first row, float32 block of shape (rows, n_neuroids))`` in order.

    Examples
    --------
    >>> truth, blocks = planted_blocks(300, 1000, 3, size=10, n_classes=4, class_size=5, block_rows=400,
    ...                                random_state=0)
    >>> [(r0, b.shape) for r0, b in blocks]
    [(0, (400, 300)), (400, (400, 300)), (800, (200, 300))]
    >>> truth.members.sum(axis=1).tolist(), truth.params["class_members"].sum(axis=1).tolist()
    ([10, 10, 10], [5, 5, 5, 5])
    """
    p = _checked({k: v for k, v in locals().items() if k != "random_state"})
    lo, hi = _check_size(size)
    if random_state is not None and (isinstance(random_state, bool) or not isinstance(random_state, int | np.integer)):
        raise ParameterError(f"The 'random_state' parameter must be an int or None. Got {random_state!r} instead.")
    n, B, K = p["n_neuroids"], p["n_presentations"], p["n_ensembles"]
    seeds = np.random.SeedSequence(random_state)
    head, *streams = seeds.spawn(1 + -(-B // p["block_rows"]))
    rng = np.random.default_rng(head)
    members = _planted_members(rng, n, K, lo, hi, p["overlap"])
    free = np.flatnonzero(~members.any(axis=0))
    n_cls, csize = p["n_classes"], p["class_size"]
    if n_cls * csize > free.size:
        raise ParameterError(
            f"The 'class_size' parameter ({csize}) is too large: {n_cls} classes need {n_cls * csize} units outside "
            f"the assemblies and there are {free.size}; use more neuroids or a smaller class_size."
        )
    class_members = np.zeros((n_cls, n), dtype=bool)
    chosen = rng.choice(free, n_cls * csize, replace=False).reshape(n_cls, csize)
    for c in range(n_cls):
        class_members[c, chosen[c]] = True
    labels = rng.permutation(np.arange(B) % n_cls)
    active = rng.random((B, K)) < p["activation_rate"]
    rate, het = p["background_rate"], p["heterogeneity"]
    base = rng.gamma(1.0 / het**2, rate * het**2, size=n) if het > 0 and rate > 0 else np.full(n, rate)
    base = base.astype(np.float32)
    class_drive = (p["class_strength"] * class_members).astype(np.float32)
    idx = [np.flatnonzero(m) for m in members]
    params = {**p, "size": (lo, hi), "random_state": random_state, "class_members": class_members}
    truth = PlantedTruth(members=members, activations=active, labels=labels, params=params)

    def gen():
        for b, r0 in enumerate(range(0, B, p["block_rows"])):
            r1 = min(B, r0 + p["block_rows"])
            g = np.random.default_rng(streams[b])
            x = g.standard_normal((r1 - r0, n), dtype=np.float32)
            x *= np.float32(p["noise"])
            x += base
            x += class_drive[labels[r0:r1]]
            for k in range(K):
                t = np.flatnonzero(active[r0:r1, k])
                if t.size:
                    joins = g.random((t.size, idx[k].size)) < p["participation"]
                    x[np.ix_(t, idx[k])] += np.float32(p["strength"]) * joins
            np.maximum(x, 0.0, out=x)
            yield r0, x

    return truth, gen()
