"""Statistics over runs that differ only by their seed (or any other key): means with confidence
intervals, ranges, how many runs reached a threshold.

The confidence interval of a mean of n values is Student's t interval with n - 1 degrees of
freedom: ``mean +- t * s / sqrt(n)`` with ``s`` the sample standard deviation; there is none for a
single value. The t quantile is computed here (:func:`t_quantile`), so scipy is not needed.
"""

from __future__ import annotations

import functools
import math
from typing import Sequence

import numpy as np
import pandas as pd

CONFIDENCE = 0.95
_MAX_DOF = 100_000  # beyond this the t quantile equals the normal one to 5 significant digits


@functools.lru_cache(maxsize=1024)
def t_quantile(dof: int, confidence: float = CONFIDENCE) -> float:
    """``t`` such that a Student t variable with ``dof`` degrees of freedom lies in ``[-t, t]``
    with probability ``confidence`` (``t_quantile(4) = 2.776...``, the 0.975 quantile)."""
    if dof < 1:
        raise ValueError(f"degrees of freedom must be >= 1, not {dof}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), not {confidence}")
    dof = min(int(dof), _MAX_DOF)
    lo, hi = 0.0, math.pi / 2  # bisection on theta = atan(t / sqrt(dof)): P(|T| <= t) grows with it
    for _ in range(200):
        mid = (lo + hi) / 2
        if _two_sided_cdf(mid, dof) < confidence:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-15:
            break
    return math.tan((lo + hi) / 2) * math.sqrt(dof)


def _two_sided_cdf(theta: float, dof: int) -> float:
    """``P(|T| <= sqrt(dof) tan(theta))`` for integer ``dof``: the finite series of Abramowitz and
    Stegun 26.7.3 (odd dof) and 26.7.4 (even dof)."""
    s, c2 = math.sin(theta), math.cos(theta) ** 2
    if dof % 2 == 1:
        k = np.arange(1, (dof - 3) // 2 + 1)
        terms = np.cumprod(2 * k / (2 * k + 1) * c2)
        series = math.cos(theta) * (1 + terms.sum()) if dof > 1 else 0.0
        return 2 / math.pi * (theta + s * series)
    k = np.arange(1, (dof - 2) // 2 + 1)
    terms = np.cumprod((2 * k - 1) / (2 * k) * c2)
    return s * (1 + terms.sum())


def mean_interval(values: Sequence[float] | np.ndarray, confidence: float = CONFIDENCE) -> tuple[float, float, float]:
    """``(mean, low, high)`` of the non-NaN ``values``: the t interval of the mean (NaN bounds for
    fewer than two values; all NaN for none)."""
    v = np.asarray(values, dtype=np.float64)
    v = v[~np.isnan(v)]
    if len(v) == 0:
        return math.nan, math.nan, math.nan
    mean = float(v.mean())
    if len(v) < 2:
        return mean, math.nan, math.nan
    half = t_quantile(len(v) - 1, confidence) * float(v.std(ddof=1)) / math.sqrt(len(v))
    return mean, mean - half, mean + half


def describe(values: pd.Series, threshold: float | None = None, lower_is_better: bool = False,
             confidence: float = CONFIDENCE) -> dict[str, float | int]:
    """``n``, ``mean``, ``ci_low``, ``ci_high``, ``min``, ``max`` of the non-null ``values`` and, with a
    ``threshold``, ``reached``: how many are at least ``threshold`` (at most, if ``lower_is_better``)."""
    v = pd.to_numeric(values, errors="coerce").astype("float64").dropna().to_numpy()
    mean, low, high = mean_interval(v, confidence)
    out: dict[str, float | int] = {"n": len(v), "mean": mean, "ci_low": low, "ci_high": high,
                                   "min": float(v.min()) if len(v) else math.nan,
                                   "max": float(v.max()) if len(v) else math.nan}
    if threshold is not None:
        out["reached"] = int((v <= threshold).sum() if lower_is_better else (v >= threshold).sum())
    return out


def mean_band(values: pd.DataFrame, keys: Sequence[str], x: str, y: str, kind: str = "ci",
         confidence: float = CONFIDENCE) -> pd.DataFrame:
    """Mean of ``y`` over the rows of each group of ``keys`` at each value of ``x``, with a band.

    Columns: the keys, ``x``, ``n`` (rows averaged), ``mean``, ``low``, ``high``; the band is the
    t interval of the mean (``kind="ci"``, NaN where n = 1) or the range (``kind="minmax"``).
    Rows with a null ``x`` or ``y`` are ignored.
    """
    if kind not in ("ci", "minmax"):
        raise ValueError(f"band must be 'ci' or 'minmax', not {kind!r}")
    df = values[list(keys) + [x, y]].dropna(subset=[x, y])
    df = df.assign(**{y: df[y].astype("float64")})
    stats = (df.groupby(list(keys) + [x], dropna=False, sort=True)[y]
             .agg(["count", "mean", "std", "min", "max"]).reset_index())
    stats = stats.rename(columns={"count": "n"})
    if kind == "minmax":
        stats["low"], stats["high"] = stats["min"], stats["max"]
    else:
        t = np.array([t_quantile(int(n) - 1, confidence) if n > 1 else math.nan for n in stats["n"]])
        half = t * stats["std"].to_numpy() / np.sqrt(stats["n"].to_numpy(dtype=np.float64))
        stats["low"], stats["high"] = stats["mean"] - half, stats["mean"] + half
    return stats[list(keys) + [x, "n", "mean", "low", "high"]]
