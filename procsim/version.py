"""The version of procsim, and the versions of the libraries that decide its output bytes.

One place for both: the package, ``procsim --version``, the build (pyproject reads ``__version__``) and the
manifest (``output_versions``) read them here.
"""

from __future__ import annotations

__version__ = "0.1.0"

# Libraries whose versions change the bytes procsim writes for the same inputs and seed: numpy (random streams),
# pyarrow (CSV and Parquet writers), faker (names, companies ...), holidays (working calendars), simpy (the order
# of simultaneous events), babel (CLDR formats in documents). constraints.txt pins the versions the golden
# hashes were taken with; pyproject.toml only bounds them.
OUTPUT_PACKAGES = ("numpy", "pyarrow", "faker", "holidays", "simpy", "babel")


def output_versions() -> dict[str, str]:
    """The installed version of each of ``OUTPUT_PACKAGES`` (``"absent"`` when one is not installed)."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in OUTPUT_PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "absent"
    return out
