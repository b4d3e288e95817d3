from django.apps import AppConfig


class MoneyConfig(AppConfig):
    name = "runware_web.money"
    verbose_name = "Money: ledger, budgets and prices"
