"""Every bound procsim puts on its input, in one place (documented in docs/limits.md).

procsim runs files other people wrote. Each bound here keeps one kind of input from hanging a run or eating the
machine's memory: the loader, the template sandbox and the load-time checks import them from here, and the
tests and docs/limits.md name them by these names. Changing a value here changes the behaviour everywhere.
Nothing here imports anything: any stage may read it.
"""

from __future__ import annotations

# -- YAML (procsim.spec.loader) -----------------------------------------------------------------------------
YAML_MAX_NODES = 200_000
"""Nodes of one YAML document after its aliases are expanded (the bundled examples have a few thousand)."""
YAML_MAX_ALIASES = 10_000
"""Uses of aliases (``*name``) in one YAML document."""
YAML_MAX_DEPTH = 64
"""Nesting depth of one YAML document, aliases expanded."""
YAML_MAX_BYTES = 10_000_000
"""Size of one process or rule file."""

# -- templates (procsim.documents.render) --------------------------------------------------------------------
TEMPLATE_MAX_OUTPUT = 1_000_000
"""Characters of one rendered document."""
TEMPLATE_MAX_SECONDS = 2.0
"""Time one document may take to render, checked while it renders (every call, loop step and operator)."""
TEMPLATE_MAX_SIZE = 1_000_000
"""Length of any string, list or number of digits a template operation may build (checked before it is built)."""
TEMPLATE_MAX_RANGE = 100_000
"""Items of one ``range()`` in a template (jinja's own sandbox limit) and slices of one ``slice``."""
TEMPLATE_MAX_DEPTH = 50
"""Nesting of macro calls (recursion) in a template."""
TEMPLATE_MAX_NESTING = 100
"""Nesting of a template's own syntax tree (blocks in blocks, parentheses in parentheses)."""
TEMPLATE_MAX_STEPS = 1_000_000
"""Loop steps (all loops together) while rendering one document."""

# -- values of a process (procsim.spec.limits checks them at load) ------------------------------------------
MAX_MEMBERS = 10_000
"""People in one role (``members: N``)."""
MAX_MEMBERS_TOTAL = 20_000
"""People in all roles together (each generated name is drawn from faker at the start of a run)."""
MAX_MASTER_OBJECTS = 10_000
"""Objects of one master-data type (``count:``)."""
MAX_MASTER_DRAWS = 50_000
"""Faker values drawn for master data at the start of a run: objects x faker fields, all types together."""
MAX_MASTER_CHANGES = 20_000
"""Expected master-data field changes a year, all objects together (``count`` x ``rate``, summed)."""
MAX_LOOP_REPEATS = 1_000
"""A loop branch's ``max``: repetitions of one loop in one case."""
MAX_CASES = 100_000_000
"""Cases of one run (``cases:``, ``--cases``); above ``ANNOUNCE_CASES`` a run says how large it is."""
ANNOUNCE_CASES = 1_000_000
"""Runs planned above this many cases (or expected arrivals for a horizon) are announced before they start."""
MAX_DURATION_S = 100 * 365 * 86_400
"""Longest duration anywhere (a task, a gap between arrivals, a horizon, a deadline): 100 years."""
MIN_INTERARRIVAL_S = 1e-3
"""Shortest mean gap between arrivals when arrivals run for a horizon (a zero gap never ends)."""
MIN_YEAR, MAX_YEAR = 1900, 2200
"""The process start and every date a run can reach lie in these years (calendar and date arithmetic)."""
MAX_NUMBER_WIDTH = 32
"""Width of a number in an object or case number pattern (``{n:06d}``)."""

# -- BPMN and simulation parameters (procsim.convert) -----------------------------------------------------------
BPMN_MAX_BYTES = 20_000_000
"""Size of one BPMN file or simulation-parameters file that ``procsim convert`` reads."""
BPMN_MAX_ELEMENTS = 200_000
"""XML elements of one BPMN file (a model of 1,000 tasks with its diagram has about 10,000)."""
