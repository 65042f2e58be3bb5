"""A session cookie names its user by a random token that signing out, a new password
or deleting the user replaces: an old copy of the cookie then signs no one in. And ids
are never given twice, so nothing of a deleted user reaches a new one."""

from __future__ import annotations

import pytest

from billing.accounts import User, delete_user, find_user
from billing.models import BillingAccount, Cancellation, db
from tests.helpers import Auth


def cookie(client):
    return client.get_cookie("session").value


def with_cookie(app, value):
    """Another browser sending this Cookie header (a stolen or copied cookie)."""
    other = app.test_client()
    other.set_cookie("session", value)
    return other


def sees_sign_in(app, value):
    response = with_cookie(app, value).get("/account")
    return response.status_code == 302 and response.headers["Location"].startswith("/signin")


def test_the_cookie_opens_the_account_while_it_stands(app, auth):
    auth.signup()
    copied = with_cookie(app, cookie(auth.client)).get("/account")
    assert copied.status_code == 200 and "Signed in as ada@example.com" in copied.get_data(as_text=True)


def test_a_cookie_from_before_sign_out_signs_no_one_in(app, auth):
    auth.signup()
    old = cookie(auth.client)
    assert auth.signout().status_code == 303
    assert sees_sign_in(app, old)
    auth.signin()  # signing in again works, with a new cookie
    assert auth.client.get("/account").status_code == 200


def test_a_cookie_from_before_a_password_change_signs_no_one_in(app, auth):
    auth.signup()
    old = cookie(auth.client)
    with app.app_context():
        find_user("ada@example.com").set_password("a new passphrase")
        db.session.commit()
    assert sees_sign_in(app, old)
    assert auth.signin(password="correct horse").status_code == 400
    assert auth.signin(password="a new passphrase").status_code == 303


def test_a_deleted_users_cookie_signs_no_one_in_and_their_cancellations_stay(app, auth, standin):
    auth.signup()
    auth.subscribe("pro_monthly")
    old = cookie(auth.client)
    with app.app_context():
        account = db.session.scalar(db.select(BillingAccount))
        db.session.add(
            Cancellation(
                account_id=account.id,
                stripe_customer_id=account.stripe_customer_id,
                stripe_subscription_id=account.subscription.stripe_subscription_id,
                requested_at=account.created_at,
            )
        )
        db.session.commit()
        delete_user(find_user("ada@example.com"))
        db.session.commit()
        assert db.session.scalar(db.select(BillingAccount)) is None
        [kept] = db.session.scalars(db.select(Cancellation)).all()
        assert kept.account_id is None  # anonymous, still counted by the reports
    assert sees_sign_in(app, old)


def test_a_deleted_users_cookie_does_not_open_the_next_account_made(app, auth):
    # SQLite gives a deleted row's id to the next row unless the table says AUTOINCREMENT.
    auth.signup("first@example.com")
    auth.client.get("/account")
    old = cookie(auth.client)
    with app.app_context():
        first = find_user("first@example.com")
        first_ids = first.id, db.session.scalar(db.select(BillingAccount.id))
        delete_user(first)
        db.session.commit()
    Auth(app.test_client(), app).signup("second@example.com")
    with app.app_context():
        assert find_user("second@example.com").id > first_ids[0]
    response = with_cookie(app, old).get("/account")
    assert response.status_code == 302 and response.headers["Location"].startswith("/signin")
    assert "second@example.com" not in response.get_data(as_text=True)
    second_account = Auth(app.test_client(), app).user("second@example.com")
    assert second_account.id > first_ids[1]


@pytest.mark.parametrize("table", [User, BillingAccount])
def test_ids_are_never_given_twice(app, table):
    with app.app_context():
        make = (
            (lambda n: User(email=f"u{n}@example.com", password_hash="x"))
            if table is User
            else (lambda n: BillingAccount(owner_id=f"o{n}", email=f"u{n}@example.com"))
        )
        rows = [make(n) for n in range(2)]
        db.session.add_all(rows)
        db.session.commit()
        highest = rows[1].id
        db.session.delete(rows[1])
        db.session.commit()
        again = make(2)
        db.session.add(again)
        db.session.commit()
        assert again.id > highest
