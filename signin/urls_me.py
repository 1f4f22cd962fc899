"""/me/: a signed-in Discord user's own data."""

from django.urls import path

from signin import views

urlpatterns = [
    path("", views.me, name="me"),
    path("export.json", views.me_export, name="me_export"),
    path("guilds/<int:gid>/counting/", views.me_counting, name="me_counting"),
]
