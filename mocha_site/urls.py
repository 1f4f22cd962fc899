from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/", include("signin.urls")),  # /accounts/discord/login/ and its callback
    path(
        "accounts/3rdparty/", include("allauth.socialaccount.urls")
    ),  # sign-in cancelled or failed
    # allauth sends a failed or cancelled sign-in back to its login page by this name: ours.
    path("accounts/login/", auth_views.LoginView.as_view(), name="account_login"),
    path("me/", include("signin.urls_me")),
    path("", include("stats.urls_api")),  # /api/…, /metrics
    path("", include("stats.urls")),  # pages
]

handler404 = "stats.views.errors.not_found"
handler500 = "stats.views.errors.server_error"
