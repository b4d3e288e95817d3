from allauth.socialaccount import views as social_views
from allauth.socialaccount.providers.openid_connect import views as oidc_views
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.urls import path
from django.views.generic import TemplateView

from runware_web.accounts import sso, views

login = views.LoginView.as_view()

urlpatterns = [
    path("login/", login, name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password/", views.PasswordChangeView.as_view(), name="password_change"),
    path("password/changed/", views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path("password/reset/", views.PasswordResetView.as_view(), name="password_reset"),
    path("password/reset/sent/", views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path("password/reset/<uidb64>/<token>/", views.PasswordResetConfirmView.as_view(), name="password_reset_confirm"),
    path("password/reset/done/", views.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
    # Single sign-on (accounts.sso): only the OpenID Connect provider's login and callback, and the
    # few social pages allauth sends people to, not allauth's own login, sign-up or account pages.
    path("sso/oidc/<str:provider_id>/login/", sso.allows_form_to_issuer(oidc_views.login),
         name="openid_connect_login"),
    path("sso/oidc/<str:provider_id>/login/callback/", oidc_views.callback, name="openid_connect_callback"),
    path("sso/cancelled/", social_views.login_cancelled, name="socialaccount_login_cancelled"),
    path("sso/error/", login_not_required(social_views.login_error), name="socialaccount_login_error"),
    path("sso/signup/", social_views.signup, name="socialaccount_signup"),
    path("sso/inactive/", login_not_required(TemplateView.as_view(template_name="accounts/inactive.html")),
         name="account_inactive"),
    # The names allauth reverses for the pages above: the portal's own login and logout.
    path("login/", login, name="account_login"),
    path("login/", login, name="account_signup"),  # sign-up is by invitation or single sign-on
    path("logout/", auth_views.LogoutView.as_view(), name="account_logout"),
]
