"""Holiday seeds from the `holidays` package, as copied into calendar revisions."""

from __future__ import annotations

import pytest

from infrastructure.holidays import (
    UnknownHolidayCategory,
    UnknownHolidayCountry,
    UnknownHolidaySubdivision,
    library_versions,
    seed_holidays,
)


def seeded(country: str, subdivision: str | None, *categories: str, year: int = 2024) -> dict:
    return {h["date"]: h["name"] for h in seed_holidays(country, subdivision, categories, [year])}


def test_brazils_public_holidays_include_good_friday_and_tiradentes_but_not_carnival():
    public = seeded("BR", "SP", "public")
    assert public["2024-03-29"] == "Sexta-feira Santa"
    assert public["2024-04-21"] == "Tiradentes"
    assert "2024-02-12" not in public


def test_brazils_optional_category_adds_carnival_and_ash_wednesday():
    with_optional = seeded("BR", "SP", "public", "optional")
    assert with_optional["2024-02-12"] == with_optional["2024-02-13"] == "Carnaval"
    assert with_optional["2024-02-14"] == "Quarta-feira de Cinzas"
    assert with_optional["2024-04-21"] == "Tiradentes"


def test_a_subdivision_adds_its_own_holidays():
    assert "2024-07-09" in seeded("BR", "SP", "public")  # São Paulo's Constitutionalist Revolution
    assert "2024-07-09" not in seeded("BR", None, "public")


def test_argentinas_carnival_is_a_public_holiday():
    public = seeded("AR", None)
    assert public["2024-02-12"] == "Lunes de Carnaval"
    assert public["2024-02-13"] == "Martes de Carnaval"


def test_seeds_are_sorted_by_date_across_years():
    seed = seed_holidays("CL", None, ["public"], [2025, 2024])
    dates = [holiday["date"] for holiday in seed]
    assert dates == sorted(dates)
    assert dates[0].startswith("2024") and dates[-1].startswith("2025")


def test_names_stay_in_the_countrys_language_whatever_the_locale(monkeypatch):
    monkeypatch.setenv("LANGUAGE", "en_US")
    assert seeded("BR", None, "public")["2024-03-29"] == "Sexta-feira Santa"


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (("XX", None, []), UnknownHolidayCountry),
        (("BR", "ZZ", []), UnknownHolidaySubdivision),
        (("BR", None, ["bank"]), UnknownHolidayCategory),
        (("CL", None, ["optional"]), UnknownHolidayCategory),
    ],
)
def test_unknown_seeds_are_refused(args, error):
    with pytest.raises(error):
        seed_holidays(*args, [2024])


def test_library_versions_name_the_holidays_and_tz_data_releases():
    versions = library_versions()
    assert set(versions) == {"tzdata", "holidays"}
    assert all(versions.values())
