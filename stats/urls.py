from django.urls import path

from stats.views import pages

urlpatterns = [
    path("", pages.home, name="home"),
]
