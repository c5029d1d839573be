"""Measure the spreadsheet import: generate N rows in the template, import them, check the audit
chain. Run against a throw-away database, e.g.

    DEBUG=1 DATABASE_URL=sqlite:////tmp/bench.sqlite3 .venv/bin/python manage.py migrate
    DEBUG=1 DATABASE_URL=sqlite:////tmp/bench.sqlite3 .venv/bin/python scripts/bench_import.py 50000
"""

import csv
import datetime
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402

from cases.intake.template import COLUMNS, format_date  # noqa: E402
from cases.models import Incident  # noqa: E402

TYPES = ["Estigmatización", "Intimidación", "Amenazas", "Judicialización", "Allanamiento"]
STATES = ["Táchira", "Zulia", "Distrito Capital", "Falcón", "Lara", "Mérida"]
PERPETRATORS = [(f"Cuerpo ficticio {i} (CF{i})", "Cuerpo de seguridad") for i in range(20)]
PERPETRATORS += [(f"Canal ficticio {i}", "Medio estatal") for i in range(10)]


def rows(count: int, seed: int = 7):
    rng = random.Random(seed)
    start = datetime.date(2015, 1, 1)
    for i in range(count):
        day = start + datetime.timedelta(days=rng.randrange(3650))
        perpetrator, category = rng.choice(PERPETRATORS)
        person = rng.random() < 0.5
        organization = f"Organización Ficticia {rng.randrange(3000)}"
        yield {
            "referencia": f"B-{i}",
            "fecha": format_date(day, "day") if rng.random() < 0.9 else format_date(day, "month"),
            "tipo": rng.choice(TYPES),
            "tipo_victima": "defensor" if person else "organización",
            "victima": f"Persona Ficticia {rng.randrange(8000)}" if person else "",
            "organizacion_victima": "" if person else organization,
            "perpetrador": perpetrator,
            "categoria_perpetrador": category,
            "rol_perpetrador": "",
            "estado": rng.choice(STATES),
            "municipio": "Municipio ficticio",
            "caso": f"Caso ficticio {i // 3}",
            "descripcion": "Hecho ficticio generado para medir la importación.",
            "fuente_url": f"https://example.org/nota/{i // 3}",
            "fuente_medio": "Medio ficticio",
        }


def main():
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
    with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False, newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows(count))
    before = Incident.objects.count()
    started = time.monotonic()
    call_command("import_incidents", handle.name, "--status", "verified")
    seconds = time.monotonic() - started
    created = Incident.objects.count() - before
    print(f"{created} incidents in {seconds:.1f} s: {count / seconds:.0f} rows/s")
    started = time.monotonic()
    call_command("import_incidents", handle.name, "--status", "verified")
    print(f"same file again (nothing to do): {time.monotonic() - started:.1f} s")
    started = time.monotonic()
    call_command("verify_audit", stdout=open(os.devnull, "w"))  # noqa: SIM115
    print(f"verify_audit: intact ({time.monotonic() - started:.1f} s)")
    Path(handle.name).unlink()


if __name__ == "__main__":
    main()
