"""Every figure function on small synthetic results returns a Figure with the expected axes and artists."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from matplotlib.figure import Figure

from ensembles import plot

MODELS = ["FF", "BP/FF", "BP"]
CLASSES = [f"c{k}" for k in range(4)]


def synthetic_activity(rng, n_per_class=20, width=24, n_classes=4, block=4, dense=False):
    """Class k drives neuroids [k*block, (k+1)*block) strongly (planted ensembles); returns (x, labels)."""
    y = np.repeat(np.arange(n_classes), n_per_class)
    x = rng.exponential(0.05, size=(y.size, width)) * (rng.random((y.size, width)) < 0.2)
    if dense:
        x = x + rng.exponential(0.5, size=x.shape)
    for k in range(n_classes):
        x[y == k, k * block:(k + 1) * block] += 1.0 + rng.random((n_per_class, block))
    return x.astype(np.float32), y


def synthetic_recording(rng, model="ff", layers=2, **kw):
    xs, y = [], None
    for _ in range(layers):
        x, y = synthetic_activity(rng, **kw)
        xs.append(x)
    width = xs[0].shape[1]
    act = np.concatenate(xs, axis=1)
    correct = np.ones(y.size, bool)
    correct[::7] = False
    return xr.Dataset(
        {"activity": (("presentation", "neuroid"), act)},
        coords={
            "stimulus_id": ("presentation", [f"s/{i:04d}" for i in range(y.size)]),
            "label": ("presentation", y),
            "label_name": ("presentation", np.array(CLASSES)[y]),
            "correct": ("presentation", correct),
            "layer": ("neuroid", np.repeat(np.arange(1, layers + 1), width)),
            "unit": ("neuroid", np.tile(np.arange(width), layers)),
        },
        attrs={"model": model},
    )


def test_order_neuroids_by_preference_groups_blocks(rng):
    x, y = synthetic_activity(rng)
    perm = rng.permutation(x.shape[1])
    order = plot.order_neuroids_by_preference(x[:, perm], y)
    assert sorted(order) == list(range(x.shape[1]))
    # planted blocks come out contiguous (strongest first within their preferred-class group), in class order
    pos = np.argsort(order)  # position of each permuted column in the ordering
    orig_pos = {int(perm[j]): int(pos[j]) for j in range(x.shape[1])}
    starts = []
    for k in range(4):
        p = sorted(orig_pos[u] for u in range(4 * k, 4 * k + 4))
        assert p == list(range(p[0], p[0] + 4))
        starts.append(p[0])
    assert starts == sorted(starts) and starts[0] == 0


def test_wall_ticks_follow_class_boundaries(rng):
    x, y = synthetic_activity(rng, n_per_class=30)
    y = y.copy()
    keep = np.ones(y.size, bool)
    keep[:20] = False  # unequal class sizes: class 0 has 10 rows, the others 30
    fig = Figure()
    ax = fig.add_subplot()
    plot.wall_axes(ax, x[keep], y[keep], class_names=CLASSES, max_rows=1000)
    np.testing.assert_allclose(ax.get_yticks(), [4.5, 24.5, 54.5, 84.5])
    assert [t.get_text() for t in ax.get_yticklabels()] == CLASSES
    assert len(ax.images) == 1 and ax.images[0].get_array().shape == (100, 24)
    # subsampling every k-th row keeps at most max_rows rows
    ax2 = Figure().add_subplot()
    plot.wall_axes(ax2, x, y, max_rows=25)
    assert ax2.images[0].get_array().shape[0] <= 25


def test_activation_walls_grid(rng):
    recs = {m: synthetic_recording(rng, model=m) for m in MODELS}
    fig = plot.activation_walls(recs)
    assert isinstance(fig, Figure)
    axes = [a for a in fig.axes if a.images]
    assert len(axes) == 6
    # correct_only drops the incorrect presentations: 80 - 12 = 68 rows
    assert axes[0].images[0].get_array().shape == (68, 24)
    assert "n=68" in axes[0].get_title()


def _by_class_table(rng):
    rows = []
    for m in MODELS:
        for layer in (1, 2):
            for k, c in enumerate(CLASSES):
                mean = rng.uniform(0.2, 0.9)
                rows.append(dict(model=m, layer=layer, **{"class": c}, label=k, measure="hoyer", mean=mean,
                                 ci_low=mean - 0.05, ci_high=mean + 0.04, size=int(rng.integers(1, 9)),
                                 fraction=0.1, null_size=1.5))
    return pd.DataFrame(rows)


def test_sparseness_bars_and_sizes(rng):
    t = _by_class_table(rng)
    fig = plot.sparseness_bars(t, measure="hoyer")
    axes = [a for a in fig.axes if a.patches]
    assert len(axes) == 2 and len(axes[0].patches) == len(MODELS) * len(CLASSES)
    # error bar extents come from the table (no recomputation)
    heights = sorted(p.get_height() for p in axes[0].patches)
    assert np.allclose(heights, sorted(t[t.layer == 1]["mean"]))
    fig = plot.ensemble_sizes(t, log=True)
    axes = [a for a in fig.axes if a.patches]
    assert len(axes) == 2 and len(axes[0].patches) == 12
    assert axes[0].get_yscale() == "symlog"
    assert any(len(c.get_offsets()) == 4 for c in axes[0].collections)  # null ticks


def test_sparseness_violins(rng):
    rows = [dict(model=m, layer=lay, kind=k, value=v) for m in MODELS for lay in (1, 2) for k in ("lifetime", "population")
            for v in rng.uniform(0, 1, 30)]
    fig = plot.sparseness_violins(pd.DataFrame(rows))
    assert len(fig.axes) == 4
    assert all(len(a.collections) >= 3 for a in fig.axes)  # one violin per model


def test_overlap_heatmaps_marks_significance():
    rows = []
    for m in MODELS[:2]:
        for a, ca in enumerate(CLASSES):
            for b, cb in enumerate(CLASSES):
                ov = 0 if a == b else (3 if {a, b} == {0, 2} else 0)
                rows.append(dict(model=m, layer=1, class_a=ca, class_b=cb, label_a=a, overlap=ov,
                                 q=0.01 if ov else 1.0))
    fig = plot.overlap_heatmaps(pd.DataFrame(rows))
    assert len(fig.axes) == 2
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert sorted(texts) == ["3*", "3*"]
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == CLASSES


def test_selectivity_distributions(rng):
    rows = [dict(model=m, layer=lay, csi=rng.uniform(0, 1), n_driven=int(rng.integers(0, 5))) for m in MODELS
            for lay in (1, 2) for _ in range(40)]
    rows.append(dict(model="FF", layer=1, csi=np.nan, n_driven=0))  # silent neuroid
    fig = plot.selectivity_distributions(pd.DataFrame(rows), max_classes=4)
    assert len(fig.axes) == 4
    assert len(fig.axes[2].patches) == 3 * 5  # row 2 = n_driven: 3 models x (0..4 classes)
    assert "FF (n=40)" in [t.get_text() for t in fig.axes[0].get_legend().get_texts()]


def test_history_frame_and_training_curves():
    # the trainers' history schema (ensembles.history): greedy FF names the trained layer and suffixes "_l<k>"
    ff = [{"epoch": 5 * (lay - 1) + e, "layer": lay, "loss": 1.0 / e, f"loss_l{lay}": 1.0 / e,
           f"g_pos_l{lay}": 2 + e, f"g_neg_l{lay}": 2 - 0.1 * e} for lay in (1, 2) for e in range(1, 6)]
    bp = [{"epoch": e, "loss": 1.0 / e, "ce": 1.0 / e, "train_accuracy_running": 0.5 + 0.1 * e,
           "epoch_time_s": 0.1, "ignored": "text", "flag": True} for e in range(1, 6)]
    bpff = [{"epoch": e, "loss": 0.3, "g_pos_l1": 1.0, "g_neg_l1": 0.5, "g_pos_l2": 2.0, "g_neg_l2": 0.4}
            for e in range(1, 4)]
    h = plot.history_frame({"FF": ff, "BP": bp, "BP/FF": bpff})
    assert set(h[h.model == "FF"]["layer"].dropna()) == {1, 2}
    assert set(h[h.model == "BP/FF"]["layer"].dropna()) == {1, 2}
    assert h[h.model == "BP"]["layer"].isna().all()  # network-wide metrics; text and booleans are not metrics
    assert set(h[h.model == "BP"]["metric"]) == {"loss", "ce", "train_accuracy_running", "epoch_time_s"}
    tr = plot.history_frame([{"epoch": 1, "layer": 1, "loss_l1": 0.7, "g_pos_l1": 2.9, "g_neg_l3": 0.1}])
    assert sorted(zip(tr["layer"], tr["metric"], strict=True)) == [(1, "g_pos"), (1, "loss"), (3, "g_neg")]
    assert len(plot.training_curves(tr.assign(model="FF")).axes[0].lines) == 2
    with pytest.raises(ValueError, match="list of per-epoch records"):
        plot.history_frame("not a history")
    fig = plot.training_curves(h)
    assert len(fig.axes) == 6 + 1  # 2 x 3 + one twin accuracy axis for BP
    ff_ax = fig.axes[0]
    assert len(ff_ax.lines) == 4  # 2 layers x pos/neg
    assert "no goodness" in fig.axes[2].texts[0].get_text()


def test_checkpoint_and_sweep(rng):
    t = pd.DataFrame([dict(model=m, epoch=e, layer=lay, hoyer=rng.uniform(), median_size=rng.integers(1, 50))
                      for m in MODELS for e in (0, 5, 10) for lay in (1, 2)])
    fig = plot.checkpoint_trajectories(t)
    assert len(fig.axes) == 2 and len(fig.axes[0].lines) == 6
    s = pd.DataFrame([dict(run=f"r{g}{lr}", layer=lay, hoyer=rng.uniform(), accuracy=rng.uniform(0.7, 1), goodness=g,
                           lr=lr) for g in ("l1", "l2") for lr in (1e-2, 1e-3) for lay in (1, 2, 3)])
    fig = plot.sweep_scatter(s)
    assert len(fig.axes) == 3 and len(fig.axes[0].collections) == 4
    colors = {tuple(np.round(c.get_facecolor()[0][:3], 3)) for c in fig.axes[0].collections}
    assert (0.839, 0.153, 0.157) in colors  # l2 red


def test_zero_shot_and_inhibition(rng):
    z = pd.DataFrame([dict(model=m, layer=lay, **{"class": c}, condition=cond, size=rng.integers(1, 9),
                           hoyer=rng.uniform()) for m in MODELS[:2] for lay in (1, 2) for c in CLASSES[:2]
                      for cond in ("held out", "seen", "all-classes run")])
    fig = plot.zero_shot(z)
    assert len(fig.axes) == 4 and len(fig.axes[0].patches) == 3 * 2
    w = pd.DataFrame([dict(model=m, layer=lay, kind=k, value=v) for m in ("FF", "BP") for lay in (1, 2)
                      for k in ("weight", "bias") for v in rng.normal(size=50)])
    stats = pd.DataFrame([dict(model=m, layer=lay, fraction_negative=0.25 * lay) for m in ("FF", "BP")
                          for lay in (1, 2)])
    cur = pd.DataFrame([dict(model=m, layer=lay, member=mem, excitatory=1.0, inhibitory=-0.5, fraction_silenced=0.2)
                        for m in ("FF", "BP") for lay in (1, 2) for mem in (True, False)])
    fig = plot.inhibition(w, stats, cur)
    assert len(fig.axes) == 6
    assert len(fig.axes[5].patches) == 8  # 4 (model, layer) groups x in/out
    # the bars are the fractions given (over all weights), not recomputed from the sample
    assert sorted(p.get_height() for p in fig.axes[2].patches) == [0.25, 0.25, 0.5, 0.5]
    assert len(plot.inhibition(w, stats).axes) == 3
    with pytest.raises(ValueError, match="one row per model, layer and member"):
        plot.inhibition(w, stats, pd.concat([cur, cur]))


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda: plot.sparseness_bars(pd.DataFrame({"model": ["FF"]})), ValueError, "missing"),
        (lambda: plot.ensemble_sizes([1, 2]), TypeError, "DataFrame"),
        (lambda: plot.wall_axes(Figure().add_subplot(), np.ones((4, 3)), [0, 0, 1, 1], order="x"), ValueError, "'order'"),
        (lambda: plot.wall_axes(Figure().add_subplot(), np.ones((4, 3)), [0, 1]), ValueError, "'labels'"),
        (lambda: plot.overlap_axes(Figure().add_subplot(), np.ones((2, 2)), class_names=["a"]), ValueError, "'overlap'"),
    ],
)
def test_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
