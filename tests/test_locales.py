"""Documents in the process locale: money, numbers, percentages and dates through babel, for every Faker locale."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from faker.config import AVAILABLE_LOCALES

from pinned import require_pinned
from procsim.documents.render import Formatter, cldr_locale, default_currency, environment, render

TEMPLATE = ("{{ date(when) }} | {{ datetime(when) }} | {{ money(amount) }} | {{ money(amount, 'USD') }} | "
            "{{ num(qty, 1) }} | {{ percent(rate, 1) }}")
VALUES = {"when": dt.datetime(2026, 3, 9, 14, 5), "amount": Decimal("1234567.505"), "qty": -9876.55, "rate": 0.0725}
NB, NNB = "\u00a0", "\u202f"  # no-break space, narrow no-break space (CLDR's separators)

EXPECTED = {
    "de_DE": f"09.03.2026 | 09.03.2026 14:05 | 1.234.567,51{NB}€ | 1.234.567,51{NB}$ | -9.876,6 | 7,3{NB}%",
    "en_US": f"Mar 9, 2026 | Mar 9, 2026 2:05{NNB}PM | $1,234,567.51 | $1,234,567.51 | -9,876.6 | 7.3%",
    "en_GB": "9 Mar 2026 | 9 Mar 2026 14:05 | £1,234,567.51 | US$1,234,567.51 | -9,876.6 | 7.3%",
    "fr_FR": f"9 mars 2026 | 9 mars 2026 14:05 | 1{NNB}234{NNB}567,51{NB}€ | 1{NNB}234{NNB}567,51{NB}$US | "
             f"-9{NNB}876,6 | 7,3{NB}%",
    "nl_NL": f"9 mrt 2026 | 9 mrt 2026 14:05 | €{NB}1.234.567,51 | US${NB}1.234.567,51 | -9.876,6 | 7,3%",
    "pl_PL": f"9 mar 2026 | 9 mar 2026 14:05 | 1{NB}234{NB}567,51{NB}zł | 1{NB}234{NB}567,51{NB}USD | "
             f"-9{NB}876,6 | 7,3%",
    "ja_JP": "2026/03/09 | 2026/03/09 14:05 | ￥1,234,568 | $1,234,567.51 | -9,876.6 | 7.3%",
    "es_ES": f"9 mar 2026 | 9 mar 2026 14:05 | 1.234.567,51{NB}€ | 1.234.567,51{NB}US$ | -9.876,6 | 7,3{NB}%",
    "it_IT": f"9 mar 2026 | 9 mar 2026 14:05 | 1.234.567,51{NB}€ | 1.234.567,51{NB}USD | -9.876,6 | 7,3%",
    "hi_IN": "9 मार्च 2026 | 9 मार्च 2026 2:05 pm | ₹12,34,567.51 | $12,34,567.51 | -9,876.6 | 7.3%",
}


@pytest.mark.parametrize("locale", sorted(EXPECTED))
def test_a_document_in_the_locale(locale):
    require_pinned("babel")  # CLDR data changes between babel releases
    env = environment(locale)
    assert render(env.from_string(TEMPLATE), VALUES) == EXPECTED[locale]


def test_the_locales_currency_and_rounding():
    assert {x: default_currency(x) for x in ("de_DE", "en_US", "en_GB", "pl_PL", "ja_JP", "de_CH")} == {
        "de_DE": "EUR", "en_US": "USD", "en_GB": "GBP", "pl_PL": "PLN", "ja_JP": "JPY", "de_CH": "CHF"}
    f = Formatter("en_US")
    assert f.money(0.005) == "$0.01" and f.money(-0.005) == "-$0.01"  # cents half away from zero
    assert f.number(2.5, 0) == "3" and f.percent(0.125) == "13%"


def test_faker_locales_cldr_does_not_name_so():
    assert str(cldr_locale("fr_QC")) == "fr_CA" and default_currency("fr_QC") == "CAD"
    assert str(cldr_locale("no_NO")) == "nb_NO" and str(cldr_locale("dk_DK")) == "da_DK"
    assert str(cldr_locale("en_TH")) == "en" and default_currency("en_TH") == "THB"  # language, country's money
    assert str(cldr_locale("xx_YY")) == "en_US"


def test_every_faker_locale_renders():
    env_text = "{{ date(when) }} {{ money(amount) }} {{ num(qty) }} {{ percent(rate) }}"
    for locale in AVAILABLE_LOCALES:
        out = render(environment(locale).from_string(env_text), VALUES)
        assert "2026" in out or "٢٠٢٦" in out, locale
        assert any(d in out for d in "0123456789"), locale
