from django.apps import AppConfig


class DemoConfig(AppConfig):
    """`load_demo` and its data: writes into every app, so it sits on top of them all."""

    name = "demo"
    verbose_name = "demo"
