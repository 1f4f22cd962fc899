"""/accounts/discord/login/ and its callback (allauth's views, our adapter)."""

from allauth.socialaccount.providers.oauth2.urls import default_urlpatterns

from signin.provider import DiscordProvider

urlpatterns = default_urlpatterns(DiscordProvider)
