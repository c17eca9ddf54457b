"""Output formats. Importing this package registers every sink module by its ``format`` name."""

from procsim.sinks import csv, parquet  # noqa: F401 - imported for registration
from procsim.sinks import labels, xes  # noqa: F401 - imported for registration
from procsim.sinks import ocel_json, ocel_sqlite  # noqa: F401 - imported for registration
from procsim.sinks import documents  # noqa: F401 - imported for registration
from procsim.sinks import activities  # noqa: F401 - imported for registration
from procsim.sinks.base import REGISTRY, Sink, SinkContext, chosen_formats

REGISTRY.load_plugins()

__all__ = ["REGISTRY", "Sink", "SinkContext", "chosen_formats"]
