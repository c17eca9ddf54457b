"""The version of procsim: one place, read by the package, the CLI, the manifest and the build."""

__version__ = "0.1.0"
