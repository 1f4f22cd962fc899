"""The collector's URLconf (mocha_site.settings.collector): it serves no pages, and the web's
URLconf needs apps its settings leave out."""

urlpatterns: list = []
