"""WTForms forms. Every form carries Flask-WTF's CSRF token, buttons included."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, IntegerField, PasswordField, StringField
from wtforms.validators import DataRequired, Email, EqualTo, Length, NumberRange, Optional

PASSWORD_MIN = 8


class SignUpForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Email(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(min=PASSWORD_MIN, max=128)])
    confirm = PasswordField(
        "Repeat password", validators=[DataRequired(), EqualTo("password", "Passwords do not match.")]
    )


class SignInForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Email(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=128)])


class PlanForm(FlaskForm):
    """A plan button: the chosen price's lookup key, checked against the catalog by the route,
    and for a per-seat plan the number of seats (checked against the catalog's bounds)."""

    lookup_key = HiddenField(validators=[DataRequired(), Length(max=100)])
    quantity = IntegerField("Seats", validators=[Optional(), NumberRange(min=1, max=10_000)])


class SeatsForm(FlaskForm):
    """The number of seats for a per-seat plan; the route checks the catalog's bounds."""

    quantity = IntegerField("Seats", validators=[DataRequired(), NumberRange(min=1, max=10_000)])


class LocaleForm(FlaskForm):
    """The language of Stripe's pages; "" follows the browser. The route checks the value."""

    locale = StringField("Language", validators=[Length(max=16)])
