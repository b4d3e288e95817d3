from django.apps import AppConfig
from django.contrib.auth.signals import user_login_failed


class AccountsConfig(AppConfig):
    name = "runware_web.accounts"
    verbose_name = "Accounts and teams"

    def ready(self) -> None:
        """Failed and locked logins go to the audit log (Django's and django-axes' signals).

        Both `audit` and `axes.signals` import models, which exist only once the app registry is
        ready: hence the imports here rather than at the top.
        """
        from axes.signals import user_locked_out

        from runware_web.accounts import audit

        user_login_failed.connect(audit.on_login_failed, dispatch_uid="audit_login_failed")
        user_locked_out.connect(audit.on_locked_out, dispatch_uid="audit_locked_out")
