"""Phone normalisation: Russian formats people type, invalid values, and equality with the plain
phonenumbers path."""

import numpy as np
import pandas as pd

from expectations.phones import normalise_phones, parse_one

RU_FORMATS = ["+79161234567", "89161234567", "+7 (916) 123-45-67", "8 916 123-45-67", "79161234567",
              "8(916)1234567", "+7 916 123 45 67", " +7-916-123-45-67 ", "9161234567"]


def test_every_russian_format_of_one_number_gives_one_e164():
    r = normalise_phones(RU_FORMATS)
    assert r["is_valid"].all()
    assert set(r["e164"]) == {"+79161234567"}


def test_invalid_values_are_invalid():
    bad = ["12345", "+7 (916) 12", "8-800", "000000", "+7916123456789", "тел", "79", "+7 (000) 000-00-0",
           "9161234", "нет"]
    r = normalise_phones(bad)
    assert len(r) == len(bad)
    assert not r["is_valid"].any()
    assert r["e164"].isna().all()


def test_landlines_toll_free_and_foreign_numbers():
    r = normalise_phones(["8 (495) 123-45-67", "8-800-555-35-35", "+380 50 123 4567", "+1 650 253 0000"])
    assert r.set_index("raw")["e164"].to_dict() == {
        "8 (495) 123-45-67": "+74951234567", "8-800-555-35-35": "+78005553535",
        "+380 50 123 4567": "+380501234567", "+1 650 253 0000": "+16502530000"}


def test_template_path_equals_full_parse_on_random_numbers():
    from sandbox.generator.simulate import format_phones

    rng = np.random.default_rng(3)
    nat = 9_000_000_000 + rng.integers(0, 1_000_000_000, 3000)
    raws = list(format_phones(nat, rng.integers(0, 7, len(nat)))) + ["+74951234567", "8 (812) 000-00-00"]
    r = normalise_phones(raws)
    expected = pd.Series([parse_one(x) for x in r["raw"]], dtype=object)
    assert (r["e164"].fillna("-").to_numpy() == expected.fillna("-").to_numpy()).all()


def test_duplicates_and_blanks_are_parsed_once():
    r = normalise_phones(["+79161234567", "+79161234567", None, "", "  "])
    assert list(r["raw"]) == ["+79161234567"]


def test_vectorised_validity_equals_is_valid_number():
    import phonenumbers
    from phonenumbers import PhoneNumber

    from expectations.phones import valid_numbers

    rng = np.random.default_rng(7)
    cc = np.array([7] * 6000 + [380] * 500 + [1] * 500 + [44] * 500 + [49] * 500 + [800] * 50)
    nsn = [str(x) for x in rng.integers(10**8, 10**10, len(cc))]
    nsn[:4] = ["9161234567", "7012345678", "3361234567", "8005553535"]
    got = valid_numbers(cc, np.array(nsn, dtype=object))
    want = np.array([phonenumbers.is_valid_number(PhoneNumber(country_code=int(c), national_number=int(n)))
                     for c, n in zip(cc, nsn)])
    assert got[:4].all() and (got == want).all()
