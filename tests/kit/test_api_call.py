"""The "Show the API call" renderings: both forms say exactly the params given."""

import ast
import shlex

from kit.api_calls import form_pairs, render

PARAMS = {
    "customer": "cus_1",
    "return_url": "https://shop.example/account/return?a=1&b=2",
    "locale": "pt-BR",
    "flow_data": {
        "type": "subscription_update_confirm",
        "subscription_update_confirm": {
            "subscription": "sub_1",
            "items": [{"id": "si_1", "price": "price_1", "quantity": 3}],
            "discounts": [{"promotion_code": "promo_1"}],
        },
        "after_completion": {
            "type": "hosted_confirmation",
            "hosted_confirmation": {"custom_message": 'Thanks, l\'équipe "Acme"!'},
        },
    },
}


def test_form_pairs_are_stripes_bracket_encoding():
    assert form_pairs({"a": {"b": [{"c": 1}, {"c": True}]}, "d": "x"}) == [
        ("a[b][0][c]", "1"),
        ("a[b][1][c]", "true"),
        ("d", "x"),
    ]


def test_python_is_valid_and_says_the_params():
    call = render(
        "billing_portal.sessions", "/v1/billing_portal/sessions", PARAMS, "https://api.stripe.com", "2026-10-28.endive"
    )
    source = call.python
    ast.parse(source)
    start = source.index("create(") + len("create(")
    assert ast.literal_eval(source[start : source.rindex(")")]) == PARAMS
    assert 'stripe_version="2026-10-28.endive"' in source


def test_curl_says_the_params_and_never_the_key():
    call = render(
        "billing_portal.sessions", "/v1/billing_portal/sessions", PARAMS, "https://api.stripe.com", "2026-10-28.endive"
    )
    words = shlex.split(call.curl.replace("\\\n", " "))
    assert words[:2] == ["curl", "https://api.stripe.com/v1/billing_portal/sessions"]
    assert words[words.index("-u") + 1] == "$STRIPE_SECRET_KEY:"
    sent = [tuple(words[i + 1].split("=", 1)) for i, w in enumerate(words) if w == "--data-urlencode"]
    assert sent == form_pairs(PARAMS)
