"""Case attributes drawn a block at a time: a case's values depend on (seed, case index) only, with the
declared distributions, and derived values follow the ones above them."""

from __future__ import annotations

import math
from collections import Counter

from procsim.sim.build import ATTRIBUTE_BLOCK, AttributeMaker
from procsim.sim.engine import STREAM_DATA
from procsim.spec import load_process

P2P = "processes/procure_to_pay.yaml"


def test_a_case_gets_the_same_attributes_in_any_order_and_across_block_edges():
    spec = load_process(P2P).spec
    n = 2 * ATTRIBUTE_BLOCK + 10
    forward = [AttributeMaker(spec, 5, STREAM_DATA)(i, f"C{i}") for i in range(n)]
    maker = AttributeMaker(spec, 5, STREAM_DATA)
    backward = {i: maker(i, f"C{i}") for i in reversed(range(n))}
    assert [backward[i] for i in range(n)] == forward
    other_seed = [AttributeMaker(spec, 6, STREAM_DATA)(i, f"C{i}") for i in range(20)]
    assert [a["amount"] for a in other_seed] != [a["amount"] for a in forward[:20]]


def test_values_follow_the_declared_sources():
    spec = load_process(P2P).spec
    maker = AttributeMaker(spec, 1, STREAM_DATA)
    cases = [maker(i, f"C{i}") for i in range(4000)]
    # the supplier is master data: each of the 300 has one name and one country, whichever case refers to it
    suppliers = {c["supplier_id"]: (c["supplier"], c["supplier_country"]) for c in cases}
    assert all(suppliers[c["supplier_id"]] == (c["supplier"], c["supplier_country"]) for c in cases)
    assert len(suppliers) <= 300
    countries = Counter(country for _, country in suppliers.values())
    n = len(suppliers)
    # choice {DE: 0.6, AT: 0.15, PL: 0.1, NL: 0.1, "NO": 0.05} per supplier: within 4.5 standard deviations
    for value, p in {"DE": 0.6, "AT": 0.15, "PL": 0.1, "NL": 0.1, "NO": 0.05}.items():
        assert abs(countries[value] - n * p) < 4.5 * math.sqrt(n * p * (1 - p)), (value, countries)
    # the net of the drawn line items (line_items.totals): whole cents, never zero
    assert all(c["amount"] > 0 and round(c["amount"], 2) == c["amount"] for c in cases)
    assert all(c["gross_amount"] == round(c["amount"] + c["tax_amount"], 2) for c in cases)
    assert all(abs(c["net_amount"] - c["amount"] / 1.19) <= 0.005 + 1e-9 for c in cases)  # derived from amount
    assert {c["currency"] for c in cases} == {"EUR"}
    assert {c["urgent"] for c in cases} == {True, False}
