"""The shape of a rule file (``rules/*.yaml``): rules with a condition and actions, and decision tables.

Like the process models these are pydantic models with ``extra="forbid"``; what the expressions mean and
whether the names they use exist is checked when the rule set is compiled (``procsim.rules.engine``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from procsim.distributions import DurationDistribution
from procsim.rules.actions import ACTIONS
from procsim.spec.base import Strict
from procsim.spec.units import Duration

RuleId = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_.-]*$")]


def _listify(v: Any) -> Any:
    return [v] if isinstance(v, str) else v


class Route(Strict):
    """At an XOR gateway, take the branch to ``to`` (rules decide; probabilities stay the fallback)."""

    gateway: str
    to: str


class DurationAction(Strict):
    """Change how long activities take for matching cases: a factor, an addition, or a new distribution."""

    activity: list[str]
    scale: Annotated[float, Field(gt=0)] | None = None
    add: Duration | None = None
    distribution: DurationDistribution | None = None

    _list = field_validator("activity", mode="before")(_listify)

    @model_validator(mode="after")
    def _one(self) -> DurationAction:
        given = [k for k in ("scale", "add", "distribution") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("a duration action needs exactly one of 'scale', 'add', 'distribution'")
        return self


class Assign(Strict):
    """Restrict who may do an activity: another role, named members, and/or a condition per candidate."""

    activity: list[str]
    role: str | None = None
    members: list[str] | None = None
    allow: str | None = None  # evaluated per candidate, with `resource` bound to the candidate's name

    _list = field_validator("activity", mode="before")(_listify)

    @model_validator(mode="after")
    def _some(self) -> Assign:
        if self.role is None and self.members is None and self.allow is None:
            raise ValueError("an assign action needs 'role', 'members' or 'allow'")
        return self


class Priority(Strict):
    """Queue priority for matching cases (higher goes first); all activities when ``activity`` is left out."""

    value: int
    activity: list[str] | None = None

    _list = field_validator("activity", mode="before")(_listify)


class Deadline(Strict):
    """When an activity has not started ``within`` this long after it was enabled, go to ``escalate_to``."""

    activity: str
    within: Duration
    escalate_to: str


class Raise(Strict):
    """Flag a business exception on the case (and the event at hand) when the condition holds."""

    exception: str
    at: str | None = None  # an activity: label its events; else the case at its start


class Rule(Strict):
    """One rule: an id, an optional condition, and one or more actions."""

    id: RuleId
    description: str = ""
    when: str | None = None
    priority: int = 0  # for conflicting route rules: higher wins; equal priorities must not overlap
    at: str | None = None  # for 'set': an activity after whose completion it applies; default: case start
    route: Route | None = None
    set: dict[str, Any] | None = None
    duration: DurationAction | None = None
    assign: Assign | None = None
    queue: Priority | None = None
    deadline: Deadline | None = None
    raise_: Raise | None = Field(default=None, alias="raise")
    # third-party actions (procsim.rules.actions), by key; their values are checked when the rules compile
    plugin_actions: dict[str, Any] = Field(default_factory=dict, exclude=True)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="before")
    @classmethod
    def _third_party_actions(cls, data: Any) -> Any:
        if isinstance(data, dict):
            if "plugin_actions" in data:
                raise ValueError("'plugin_actions' is not a rule key: write a third-party action under its own key")
            keys = [k for k in data if isinstance(k, str) and k in ACTIONS and ACTIONS[k].model is not None]
            if keys:
                data = {k: v for k, v in data.items() if k not in keys} | {"plugin_actions": {k: data[k] for k in keys}}
        return data

    @model_validator(mode="after")
    def _has_action(self) -> Rule:
        if not self.actions():
            raise ValueError(f"a rule needs at least one action: {', '.join(ACTIONS)}")
        if self.at is not None and self.set is None:
            raise ValueError("'at' goes with 'set'")
        return self

    @field_validator("set")
    @classmethod
    def _scalars(cls, v: dict[str, Any] | None) -> dict[str, Any] | None:
        for key, value in (v or {}).items():
            if not isinstance(value, (str, int, float, bool)):
                raise ValueError(f"set {key}: give an expression (text) or a plain value, not {value!r}")
        return v

    def actions(self) -> list[str]:
        """The keys of the actions this rule takes, in registry order."""
        return [k for k, a in ACTIONS.items() if a.value(self) is not None]


class Table(Strict):
    """A DMN-style decision table: rows of input tests -> outputs, with a hit policy.

    With ``gateway`` its single output names the branch to take; otherwise its outputs set case attributes
    (at case start, or after the activity named in ``at``).
    """

    id: RuleId
    description: str = ""
    hit: Literal["first", "unique", "priority", "collect"] = "first"
    aggregate: Literal["sum", "min", "max", "count"] | None = None
    priorities: list[Any] | None = None
    inputs: list[str]
    outputs: list[str]
    rows: list[list[Any]]
    gateway: str | None = None
    at: str | None = None

    @model_validator(mode="after")
    def _shape(self) -> Table:
        width = len(self.inputs) + len(self.outputs)
        for i, row in enumerate(self.rows):
            if len(row) != width:
                raise ValueError(f"row {i + 1} has {len(row)} cells; {len(self.inputs)} inputs + "
                                 f"{len(self.outputs)} outputs make {width}")
        if self.gateway is not None and len(self.outputs) != 1:
            raise ValueError("a routing table (with 'gateway') has exactly one output: the branch target")
        if self.aggregate is not None and self.hit != "collect":
            raise ValueError("'aggregate' goes with hit: collect")
        if self.hit == "priority" and not self.priorities:
            raise ValueError("hit: priority needs 'priorities': the output values, most important first")
        return self


class RuleFile(Strict):
    """A rule file: ``rules`` and ``tables``, for one business domain."""

    description: str = ""
    rules: list[Rule] = []
    tables: list[Table] = []
