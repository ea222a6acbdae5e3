"""Contact: the customer id derived from the strongest contact, and the requester as Personal."""

from __future__ import annotations

from uuid import UUID

import pytest

from domain.customer import Contact, NoContactError
from domain.personal import ERASED, Personal, personal_text

# Stands for the deployment's secret namespace.
NS = UUID(int=1)


def contact(**fields: str | None) -> Contact:
    return Contact(name=fields.pop("name", None) or "Ana", **fields)


# customer_id()


def test_the_customer_id_is_a_stable_uuid_for_the_same_email() -> None:
    first = contact(email="ana@example.com").customer_id(NS)
    assert isinstance(first, UUID)
    assert contact(email="ana@example.com", name="Someone else").customer_id(NS) == first
    assert contact(email="bob@example.com").customer_id(NS) != first


@pytest.mark.parametrize(
    "spelling", ["ANA@Example.COM", "  ana@example.com", "ana@example.com \n", "\tAna@EXAMPLE.com "]
)
def test_the_email_is_compared_ignoring_case_and_surrounding_whitespace(spelling: str) -> None:
    assert contact(email=spelling).customer_id(NS) == contact(email="ana@example.com").customer_id(
        NS
    )


def test_the_email_wins_over_phone_and_external_id() -> None:
    by_email = contact(email="ana@example.com").customer_id(NS)
    assert contact(email="ana@example.com", phone="+54 11 5555-0000").customer_id(NS) == by_email
    assert contact(email="ana@example.com", external_id="crm-1").customer_id(NS) == by_email


@pytest.mark.parametrize(
    "spelling", ["+54 11 5555-0000", "+54 (11) 5555 0000", "+54.11.5555.0000", "+541155550000"]
)
def test_without_an_email_the_phone_digits_decide_whatever_the_formatting(spelling: str) -> None:
    assert contact(phone=spelling).customer_id(NS) == contact(phone="+541155550000").customer_id(NS)


def test_different_phone_numbers_give_different_customers() -> None:
    first = contact(phone="+54 11 5555-0000").customer_id(NS)
    assert contact(phone="+54 11 5555-0001").customer_id(NS) != first


def test_the_phone_wins_over_the_external_id() -> None:
    by_phone = contact(phone="555 0000").customer_id(NS)
    assert contact(phone="555 0000", external_id="crm-1").customer_id(NS) == by_phone


def test_with_only_an_external_id_that_id_decides() -> None:
    first = contact(external_id="crm-1").customer_id(NS)
    assert contact(external_id="crm-1").customer_id(NS) == first
    assert contact(external_id="crm-2").customer_id(NS) != first


def test_the_kind_of_contact_is_part_of_the_customer_id() -> None:
    same_text = "5550000"
    ids = {
        contact(email=same_text).customer_id(NS),
        contact(phone=same_text).customer_id(NS),
        contact(external_id=same_text).customer_id(NS),
    }
    assert len(ids) == 3


@pytest.mark.parametrize("email", ["", "   "], ids=["empty", "spaces"])
def test_a_blank_email_counts_as_no_email_and_falls_back_to_the_phone(email: str) -> None:
    by_phone = contact(phone="5550000").customer_id(NS)
    assert contact(email=email, phone="555 0000").customer_id(NS) == by_phone


@pytest.mark.parametrize("phone", ["", "n/a"], ids=["empty", "no digits"])
def test_a_phone_without_digits_counts_as_no_phone_and_falls_back_to_the_external_id(
    phone: str,
) -> None:
    by_external_id = contact(external_id="crm-1").customer_id(NS)
    assert contact(phone=phone, external_id="crm-1").customer_id(NS) == by_external_id


@pytest.mark.parametrize(
    "fields",
    [{}, {"email": None, "phone": None, "external_id": None}, {"email": "", "phone": ""}],
    ids=["nothing", "all None", "empty strings"],
)
def test_a_contact_without_email_phone_or_external_id_has_no_customer_id(fields) -> None:
    with pytest.raises(NoContactError):
        contact(**fields).customer_id(NS)


def test_no_contact_error_is_a_value_error() -> None:
    assert issubclass(NoContactError, ValueError)


# as_personal()


def test_as_personal_wraps_every_given_field_owned_by_the_customer() -> None:
    given = contact(name="Ana", email="ana@example.com", phone="555 0000", external_id="crm-1")
    owner = given.customer_id(NS)
    assert given.as_personal(owner) == {
        "name": Personal(owner, "Ana"),
        "email": Personal(owner, "ana@example.com"),
        "phone": Personal(owner, "555 0000"),
        "external_id": Personal(owner, "crm-1"),
        "handle": None,
    }


def test_as_personal_keeps_the_texts_as_given_and_leaves_missing_fields_none() -> None:
    given = contact(name="Ana", email=" ANA@example.com ")
    owner = given.customer_id(NS)
    personal = given.as_personal(owner)
    assert personal["email"] == Personal(owner, " ANA@example.com ")
    assert (personal["phone"], personal["external_id"]) == (None, None)
    assert set(personal) == {"name", "email", "phone", "external_id", "handle"}


def test_the_same_contact_is_a_different_customer_in_another_deployment() -> None:
    other_namespace = UUID(int=2)
    given = contact(email="ana@example.com")
    assert given.customer_id(NS) != given.customer_id(other_namespace)


# Personal itself.


def test_a_personal_value_reads_as_its_text_and_knows_when_it_is_erased() -> None:
    owner = contact(email="ana@example.com").customer_id(NS)
    value = Personal(owner, "hello")
    assert (str(value), personal_text(value), personal_text(None)) == ("hello", "hello", None)
    assert not value.is_erased
    assert Personal(owner, ERASED).is_erased
