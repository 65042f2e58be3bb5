"""The validator and the form decoding, tested directly against SDK types."""

from __future__ import annotations

from typing import NotRequired, TypedDict

import pytest
from stripe.params import CustomerUpdateParams, SubscriptionListParams
from stripe.params.billing_portal import SessionCreateParams

from standin.encoding import EncodingError, bracket, decode
from standin.validate import ParamError, SchemaError, check_schema, validate


def error_of(params: dict, params_type: type) -> ParamError:
    with pytest.raises(ParamError) as info:
        validate(params, params_type)
    return info.value


def test_decode_nests_brackets_and_lists() -> None:
    pairs = [
        ("flow_data[type]", "subscription_update_confirm"),
        ("flow_data[subscription_update_confirm][items][0][id]", "si_1"),
        ("flow_data[subscription_update_confirm][items][0][quantity]", "2"),
        ("expand[]", "a"),
        ("expand[]", "b"),
        ("metadata[7]", "x"),
    ]
    assert decode(pairs) == {
        "flow_data": {
            "type": "subscription_update_confirm",
            "subscription_update_confirm": {"items": [{"id": "si_1", "quantity": "2"}]},
        },
        "expand": ["a", "b"],
        "metadata": {"7": "x"},
    }


def test_decode_refuses_a_key_both_value_and_hash() -> None:
    with pytest.raises(EncodingError):
        decode([("a", "1"), ("a[b]", "2")])


def test_bracket_spells_paths_like_stripe() -> None:
    assert bracket(("flow_data", "items", 0, "price")) == "flow_data[items][0][price]"


def test_valid_params_come_back_typed() -> None:
    params = {
        "customer": "cus_1",
        "locale": "de",
        "flow_data": {
            "type": "subscription_update_confirm",
            "subscription_update_confirm": {"subscription": "sub_1", "items": [{"id": "si_1", "quantity": "3"}]},
        },
    }
    result = validate(params, SessionCreateParams)
    assert result["flow_data"]["subscription_update_confirm"]["items"] == [{"id": "si_1", "quantity": 3}]


def test_unknown_nested_key() -> None:
    error = error_of({"flow_data": {"type": "customer_update", "foo": "1"}}, SessionCreateParams)
    assert (error.param, error.message) == ("flow_data[foo]", "Received unknown parameter: flow_data[foo]")


def test_missing_required_nested_key() -> None:
    error = error_of({"flow_data": {"subscription_cancel": {"subscription": "sub_1"}}}, SessionCreateParams)
    assert (error.param, error.message) == ("flow_data[type]", "Missing required param: flow_data[type].")


def test_enum_checked_against_literal_members_despite_str_in_union() -> None:
    error = error_of({"flow_data": {"type": "subscription_explode"}}, SessionCreateParams)
    assert error.param == "flow_data[type]"
    assert error.message.startswith("Invalid flow_data[type]: must be one of customer_update, payment_method_update")
    # The string form of the same kind of type: "Literal[...]|str".
    assert error_of({"locale": "xx"}, SessionCreateParams).param == "locale"


def test_empty_string_unsets_only_where_the_type_allows_it() -> None:
    assert validate({"address": "", "metadata": ""}, CustomerUpdateParams) == {"address": "", "metadata": ""}
    assert error_of({"balance": ""}, CustomerUpdateParams).param == "balance"


def test_request_options_are_not_params() -> None:
    assert error_of({"idempotency_key": "k"}, CustomerUpdateParams).param == "idempotency_key"


def test_scalars_parse_from_wire_strings() -> None:
    assert validate({"limit": "3", "created": {"gte": "5"}}, SubscriptionListParams) == {
        "limit": 3,
        "created": {"gte": 5},
    }
    assert error_of({"limit": "three"}, SubscriptionListParams).message == "Invalid integer: three"
    assert validate({"automatic_tax": {"enabled": "false"}}, SubscriptionListParams) == {
        "automatic_tax": {"enabled": False}
    }
    assert error_of({"automatic_tax": {"enabled": "no"}}, SubscriptionListParams).param == "automatic_tax[enabled]"


def test_list_indices_must_be_contiguous() -> None:
    params = {
        "flow_data": {
            "type": "subscription_update_confirm",
            "subscription_update_confirm": {"subscription": "sub_1", "items": {"1": {"id": "si_1"}}},
        }
    }
    assert error_of(params, SessionCreateParams).param == "flow_data[subscription_update_confirm][items]"


def test_metadata_accepts_any_keys() -> None:
    assert validate({"metadata": {"anything": "goes", "0": "zero"}}, CustomerUpdateParams)["metadata"] == {
        "anything": "goes",
        "0": "zero",
    }


class BrokenParams(TypedDict):
    nested: NotRequired[NoSuchParamsType]  # type: ignore[name-defined]  # noqa: F821


def test_unresolved_forward_ref_is_a_schema_error_not_a_pass() -> None:
    with pytest.raises(SchemaError, match="NoSuchParamsType"):
        check_schema(BrokenParams)
    with pytest.raises(SchemaError):
        validate({"nested": {"x": "1"}}, BrokenParams)
