import json

from django.core.management.base import BaseCommand, CommandError

from reports.exports import as_csv
from reports.narrative import narrative
from reports.selectors import monthly_report, parse_period


class Command(BaseCommand):
    help = "Prints a month's figures (counted incidents): monthly_report 2021-07 --format json"

    def add_arguments(self, parser):
        parser.add_argument("month", help="YYYY-MM")
        parser.add_argument("--format", choices=["json", "csv", "text"], default="text")
        parser.add_argument("--language", default="es", help="for --format text (es or en)")

    def handle(self, *args, month, format, language, **options):
        try:
            year, number = parse_period(month)
        except ValueError as error:
            raise CommandError(str(error)) from None
        figures = monthly_report(year, number)
        if format == "json":
            self.stdout.write(json.dumps(figures, ensure_ascii=False, indent=2))
        elif format == "csv":
            self.stdout.write(as_csv(figures), ending="")
        else:
            self.stdout.write(narrative(figures, language))
