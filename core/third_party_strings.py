"""Strings shown by django-simple-history, which ships no Spanish catalogue.

Listed here (never called) so that `makemessages` puts them in our catalogue, which Django
consults before the libraries' own (LOCALE_PATHS comes first).
"""

from django.utils.translation import gettext_noop

SIMPLE_HISTORY = [
    gettext_noop("View history: %s"),
    gettext_noop("Change history: %s"),
    gettext_noop("View %s"),
    gettext_noop("View %(verbose_name)s"),
    gettext_noop("Created"),
    gettext_noop("Changed"),
    gettext_noop("Deleted"),
    gettext_noop("This object doesn't have a change history."),
    gettext_noop("Object"),
    gettext_noop("Date/time"),
    gettext_noop("Comment"),
    gettext_noop("Changed by"),
    gettext_noop("Change reason"),
    gettext_noop("Changes"),
    gettext_noop("None"),
    gettext_noop("Close"),
    gettext_noop("History"),
]
