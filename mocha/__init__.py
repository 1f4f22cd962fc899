"""Project-level pieces every app shares: the command base, `manage.py run`, time and Discord
helpers."""
