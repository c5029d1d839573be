#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    from config.startup import assert_safe_to_run

    try:
        assert_safe_to_run(sys.argv[1] if len(sys.argv) > 1 else "help")
    except ImproperlyConfigured as error:
        sys.exit(f"Refused: {error}")
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
