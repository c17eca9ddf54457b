"""Rules: safe expressions (:mod:`.expr`), their function registry (:mod:`.functions`) and decision tables (:mod:`.tables`).

Import from the submodules; this package module stays empty so importing one part does not load the others.
"""
