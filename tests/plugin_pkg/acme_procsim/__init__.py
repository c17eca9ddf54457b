"""A third-party procsim extension package, as a user would publish one (used by tests/test_plugins.py).

One module per extension point, each importing only the procsim module that owns it: procsim imports an
entry point while that module is itself being imported (a distribution must exist before the YAML union of
distributions is built), so the package's own ``__init__`` stays empty.
"""
