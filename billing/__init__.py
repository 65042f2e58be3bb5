"""The merchant's billing pages: what a fork of this starter keeps.

Pages and buttons, the pure builders of each button's Stripe params, the
eligibility rules, the catalog, accounts, the webhook and the local mirror of
each customer's subscription, and `stripe_api`, the one module that calls
Stripe. Nothing here imports the folders around it: they build on this.
"""
