from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "runware_web.accounts"
    verbose_name = "Accounts and teams"
