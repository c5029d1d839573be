"""Demo data: reproduces CDJ's 2021 figures exactly.

Counted incidents per month (verified or published cases, no duplicates):
January 99 (59 against organizations, 40 against persons), February 41, March 43
(first quarter 183), April 76, May 80, June 35 (January–June 374, with CDJ's
half-year split by type), July 140 (112 stigmatization, 14 intimidation, 5 arbitrary
detentions, 4 judicial harassment, 2 raids, 3 other; 72 against defenders, 68 against
organizations). January–July: 514.

The Tarazona case is real and public; every other name is invented and looks it.
A few records show what is *not* counted: a draft case, a retracted case, a duplicate
report, and an incident known only by its year.
"""

import calendar
import datetime
from collections import Counter
from collections.abc import Callable

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.services import system_user
from cases import notices as case_notices
from cases import services
from cases.models import Case, Incident, Involvement
from core.records import record_save
from demo.data import (
    CASE_SIZE,
    CASE_TITLES,
    DEMO_ACCOUNTS,
    FIRST_HALF_MONTHS,
    FIRST_HALF_TYPES,
    FIRST_NAMES,
    JULY_OTHER_AGAINST_DEFENDERS,
    JULY_OTHER_TYPES,
    LAST_NAMES,
    ORG_FOCUS,
    ORG_FORMS,
    PERPETRATOR_CYCLE,
    PERPETRATORS,
    PROFILE_CYCLE,
    REASON,
    STATES,
    YEAR,
    T,
    assign_targets,
    demo_password,
    demo_totp_key,
    spread,
)
from legal import notices as legal_notices
from legal import services as legal_services
from legal.models import Charge, Detention, Hearing, LegalAction, Proceeding, Transfer
from notifications.models import Notification
from organizations.models import Defender, Membership, Organization, Perpetrator, Profile
from organizations.vocabularies import PerpetratorCategory, State


class DemoLoader:
    def __init__(self, *, log: Callable[[str], None] = lambda line: None):
        self.log = log
        self.created = Counter()
        self.case_number = 0

    # People, organizations, perpetrators, accounts ---------------------------------------
    def accounts(self) -> list[tuple[str, str, str, bool]]:
        rows = []
        for username, group_name, description in DEMO_ACCOUNTS:
            user, created = get_user_model().objects.get_or_create(
                username=username, defaults={"is_staff": True, "first_name": username.title()}
            )
            if created:
                user.set_password(demo_password(username))
                user.save(update_fields=["password"])
                user.groups.add(Group.objects.get(name=group_name))
                TOTPDevice.objects.create(
                    user=user, name="default", key=demo_totp_key(username), confirmed=True
                )
            rows.append((username, group_name, description, created))
        return rows

    def team(self, case: Case, usernames: list[str]) -> None:
        """Put these demo accounts (those that exist) on the case team."""
        members = get_user_model().objects.filter(username__in=usernames)
        services.case_team_set(case=case, members=members, by=self.user, trusted=True)

    def _get_or_save(self, model, lookup: dict, defaults: dict):
        # Names are unique regardless of case (the constraints use Lower): match them so.
        obj = model.objects.filter(**{f"{k}__iexact": v for k, v in lookup.items()}).first()
        if obj is None:
            obj = model(**lookup, **defaults)
            record_save(obj, user=self.user, reason=REASON)
            self.created[model] += 1
        return obj

    def perpetrators(self) -> dict[str, Perpetrator]:
        found = {}
        for key, name, acronym, category, kind, parent in PERPETRATORS:
            found[key] = self._get_or_save(
                Perpetrator,
                {"name": name},
                {
                    "acronym": acronym,
                    "category": PerpetratorCategory(category),
                    "kind": kind,
                    "parent": found.get(parent),
                },
            )
        return found

    def organization(self, name: str, kind: str, state: str = "") -> Organization:
        return self._get_or_save(Organization, {"name": name}, {"kind": kind, "state": state})

    def defender(self, full_name: str, *, profiles=(), organization=None, role="", state=""):
        defender = Defender.objects.filter(full_name__iexact=full_name).first()
        if defender is None:
            defender = self._get_or_save(Defender, {"full_name": full_name}, {"state": state})
            defender.profiles.set(Profile.objects.filter(code__in=profiles))
            if organization is not None:
                record_save(
                    Membership(defender=defender, organization=organization, role=role),
                    user=self.user,
                    reason=REASON,
                )
        return defender

    def invented_people(self):
        organizations = []
        for i, (form, (focus, kind)) in enumerate(
            (form, focus) for focus in ORG_FOCUS for form in ORG_FORMS
        ):
            organizations.append(
                self.organization(f"{form} {focus}", kind, STATES[(i * 5) % len(STATES)])
            )
        defenders = []
        for i, (first, last) in enumerate(
            (first, last) for last in LAST_NAMES for first in FIRST_NAMES
        ):
            defenders.append(
                self.defender(
                    f"{first} {last}",
                    profiles=[PROFILE_CYCLE[i % len(PROFILE_CYCLE)]],
                    organization=organizations[i % len(organizations)],
                    role="integrante",
                    state=STATES[(i * 7) % len(STATES)],
                )
            )
        return organizations, defenders

    # Cases ---------------------------------------------------------------------------------
    def new_case(self, title: str, **fields) -> Case | None:
        """A new case with this title, or None if the demo already has it (idempotence)."""
        if Case.objects.filter(title=title).exists():
            return None
        self.created[Case] += 1
        return services.case_create(user=self.user, title=title, reason=REASON, **fields)

    def publish(self, case: Case, *, until: str = Case.Status.PUBLISHED):
        for status in (Case.Status.IN_REVIEW, Case.Status.VERIFIED, Case.Status.PUBLISHED):
            services.case_transition(case=case, user=self.user, status=status, reason=REASON)
            if status == until:
                return

    def incident(self, case, **fields) -> Incident:
        self.created[Incident] += 1
        return services.incident_create(user=self.user, case=case, reason=REASON, **fields)

    def month(self, month: int, types: list[str], against_defenders: int | None):
        types = sorted(types, key=list(T.values).index)  # same types side by side, to group
        kinds = assign_targets(types, against_defenders)
        days = calendar.monthrange(YEAR, month)[1]
        turn = Counter()
        groups, i = [], 0
        while i < len(types):
            size = CASE_SIZE.get(types[i], 1)
            j = i
            while j < len(types) and j - i < size and types[j] == types[i]:
                j += 1
            groups.append(range(i, j))
            i = j
        for number, group in enumerate(groups, start=1):
            kind = types[group[0]]
            self.case_number += 1
            occurred_on = datetime.date(YEAR, month, (number * 3) % days + 1)
            state = STATES[self.case_number % len(STATES)]
            case = self.new_case(
                f"{CASE_TITLES[kind]} (caso de ejemplo {YEAR}-{month:02d} n.º {number:03d})",
                summary="Caso inventado para la demostración.",
                confidentiality=Case.Confidentiality.PUBLIC,
                state=state,
            )
            if case is None:
                continue
            for index in group:
                t = types[index]
                who = self.perpetrator[PERPETRATOR_CYCLE[t][turn[t] % len(PERPETRATOR_CYCLE[t])]]
                involvements = [(who, Involvement.Role.PERPETRATED)]
                if t == T.STIGMATIZATION and who.category == "public_official":
                    involvements.append((self.perpetrator["mazo"], Involvement.Role.AMPLIFIED))
                target = (
                    {"defender": self.defenders[turn["defender"] % len(self.defenders)]}
                    if kinds[index] == "defender"
                    else {"organization": self.orgs[turn["organization"] % len(self.orgs)]}
                )
                turn[t] += 1
                turn[kinds[index]] += 1
                self.incident(
                    case,
                    type=t,
                    occurred_on=occurred_on,
                    state=state,
                    perpetrators=involvements,
                    **target,
                )
            services.source_create(
                user=self.user,
                case=case,
                kind="television" if kind == T.STIGMATIZATION else "press",
                title=f"Nota de ejemplo sobre: {case.title}",
                publisher="Medio de ejemplo (ficticio)",
                date=occurred_on,
                reliability="probable",
                reason=REASON,
            )
            self.publish(case)

    def tarazona(self):
        title = (
            "Detención de Javier Tarazona y activistas de FundaRedes en Coro, 2 de julio de 2021"
        )
        fundaredes = self.organization("FundaRedes", Organization.Kind.HUMAN_RIGHTS_NGO)
        people = {
            name: self.defender(name, profiles=profiles, organization=fundaredes, role=role)
            for name, profiles, role in [
                ("Javier Tarazona", ["activist", "ngo_staff"], "director"),
                ("José Rafael Tarazona", ["activist"], "activista"),
                ("Omar de Dios García", ["activist"], "activista"),
                ("Jhonny Romero", ["activist"], "activista"),
            ]
        }
        case = self.new_case(
            title,
            summary=(
                "El 2 de julio de 2021 funcionarios del SEBIN detuvieron en Coro (Falcón) a "
                "Javier Tarazona, director de FundaRedes, y a los activistas José Rafael "
                "Tarazona y Omar de Dios García; Jhonny Romero fue retenido y liberado el mismo "
                "día. Los tres primeros fueron imputados por traición a la patria, terrorismo e "
                "incitación al odio ante el Tribunal 3.º de Control con competencia en "
                "terrorismo de Caracas. Javier Tarazona estuvo recluido en El Helicoide y fue "
                "excarcelado el 1 de febrero de 2026."
            ),
            confidentiality=Case.Confidentiality.PUBLIC,
            state=State.FALCON,
            place="Coro",
        )
        if case is None:
            return
        # Its documentalist and the lawyer who follows the detentions: only they (and
        # coordinators) would see its witnesses, contacts and health notes.
        self.team(case, ["documentalista", "abogada"])
        sebin, court = self.perpetrator["sebin"], self.perpetrator["court"]
        for name in people:
            self.incident(
                case,
                type=T.ARBITRARY_DETENTION,
                occurred_on=datetime.date(2021, 7, 2),
                defender=people[name],
                state=State.FALCON,
                municipality="Miranda (Coro)",
                perpetrators=[(sebin, Involvement.Role.PERPETRATED)],
                description=(
                    "Retenido y liberado el mismo día." if name == "Jhonny Romero" else ""
                ),
            )
        for name in ["Javier Tarazona", "José Rafael Tarazona", "Omar de Dios García"]:
            self.incident(
                case,
                type=T.JUDICIAL_HARASSMENT,
                occurred_on=datetime.date(2021, 7, 1),
                date_precision=Incident.DatePrecision.MONTH,
                defender=people[name],
                state=State.DISTRITO_CAPITAL,
                description="Imputado por traición a la patria, terrorismo e incitación al odio.",
                perpetrators=[(court, Involvement.Role.PERPETRATED)],
            )
        for kind, source_title, publisher, confidential in [
            (
                "ngo_report",
                "Informe mensual de julio de 2021",
                "Centro para los Defensores y la Justicia",
                False,
            ),
            (
                "press",
                "Nota de prensa de ejemplo sobre la detención en Coro",
                "Medio de ejemplo (ficticio)",
                False,
            ),
            ("testimony", "Testimonio de un familiar (ejemplo)", "", True),
        ]:
            services.source_create(
                user=self.user,
                case=case,
                kind=kind,
                title=source_title,
                publisher=publisher,
                date=datetime.date(2021, 7, 31) if kind == "ngo_report" else None,
                reliability="confirmed" if kind == "ngo_report" else "probable",
                confidential=confidential,
                reason=REASON,
            )
        self.publish(case)
        services.case_highlight(
            case=case,
            user=self.user,
            summary=(
                "El director de FundaRedes, detenido por el SEBIN e imputado por traición a la "
                "patria, terrorismo e incitación al odio, pasó más de cuatro años en prisión"
            ),
        )

    def not_counted(self):
        """Records that must never change the figures: the counting rule, shown."""
        org = self.orgs[0]
        draft = self.new_case("Denuncia sin verificar (ejemplo, borrador)", state=State.ZULIA)
        if draft is not None:
            for day in (5, 6):
                self.incident(
                    draft, type=T.THREAT, occurred_on=datetime.date(2021, 7, day), organization=org
                )
        retracted = self.new_case("Caso retractado (ejemplo)", state=State.LARA)
        if retracted is not None:
            self.incident(
                retracted,
                type=T.INTIMIDATION,
                occurred_on=datetime.date(2021, 7, 9),
                defender=self.defenders[1],
            )
            services.source_create(
                user=self.user,
                case=retracted,
                kind="press",
                title="Nota luego desmentida (ejemplo)",
                reason=REASON,
            )
            self.publish(retracted)
            services.case_retract(
                case=retracted, user=self.user, reason="La fuente se retractó (ejemplo)."
            )
        repeated = self.new_case(
            "Segundo reporte de un mismo ataque (ejemplo)", state=State.CARABOBO
        )
        if repeated is not None:
            original = (
                Incident.objects.counted()
                .in_month(YEAR, 7)
                .filter(type=T.STIGMATIZATION)
                .order_by("id")
                .first()
            )
            copy = self.incident(
                repeated,
                type=original.type,
                occurred_on=original.occurred_on,
                defender=original.defender,
                organization=original.organization,
            )
            services.incident_mark_duplicate(incident=copy, original=original, user=self.user)
            services.source_create(
                user=self.user,
                case=repeated,
                kind="social_media",
                title="Publicación en redes (ejemplo)",
                reason=REASON,
            )
            self.publish(repeated)
        yearly = self.new_case("Hostigamiento sostenido durante 2020 (ejemplo)", state=State.MERIDA)
        if yearly is not None:
            self.incident(
                yearly,
                type=T.INTIMIDATION,
                occurred_on=datetime.date(2020, 1, 1),
                date_precision=Incident.DatePrecision.YEAR,
                organization=self.orgs[2],
            )
            services.source_create(
                user=self.user,
                case=yearly,
                kind="ngo_report",
                title="Informe anual (ejemplo)",
                reason=REASON,
            )
            self.publish(yearly)

    def tarazona_legal(self):
        """The legal side of the Tarazona case: four detentions, the court case, hearings.
        Dates of hearings and transfers are examples (marked so); arrest and release are
        public."""
        javier = Defender.objects.get(full_name="Javier Tarazona")
        if Proceeding.objects.filter(defendants=javier).exists():
            return
        lawyer = get_user_model().objects.filter(username="abogada").first()
        sebin, court = self.perpetrator["sebin"], self.perpetrator["court"]
        arrested = datetime.date(2021, 7, 2)
        detentions = {}
        for incident in Incident.objects.filter(
            defender__proceedings__isnull=True,
            type=T.ARBITRARY_DETENTION,
            case__title__startswith="Detención de Javier Tarazona",
        ).select_related("defender"):
            name = incident.defender.full_name
            fields = {"status": Detention.Status.DETAINED, "last_news_on": arrested}
            if name == "Javier Tarazona":
                fields = {
                    "status": Detention.Status.RELEASED,
                    "released_on": datetime.date(2026, 2, 1),
                    "release_kind": Detention.ReleaseKind.NOT_RECORDED,
                    "place_of_detention": "El Helicoide (Caracas)",
                    "last_news_on": datetime.date(2026, 2, 1),
                }
            elif name == "Jhonny Romero":
                fields = {
                    "status": Detention.Status.RELEASED,
                    "released_on": arrested,
                    "release_kind": Detention.ReleaseKind.WITHOUT_CHARGES,
                    "last_news_on": arrested,
                }
            detention = Detention(
                incident=incident,
                arrested_on=arrested,
                arrest_place="Coro, Falcón",
                arresting_body=sebin,
                counsel=Detention.Counsel.CHOSEN,
                lawyer=lawyer,
                **fields,
            )
            legal_services.detention_save(detention=detention, user=self.user, reason=REASON)
            detentions[name] = detention
        legal_services.transfer_save(
            transfer=Transfer(
                detention=detentions["Javier Tarazona"],
                moved_on=datetime.date(2021, 7, 4),
                place="El Helicoide (Caracas)",
                note="Fecha de ejemplo.",
            ),
            user=self.user,
            reason=REASON,
        )
        proceeding = Proceeding(
            court=court.name,
            case_file_number="EXP-DEMO-0001 (ficticio)",
            stage=Proceeding.Stage.PRELIMINARY_HEARING,
            pretrial_detention_since=arrested,
            lawyer=lawyer,
        )
        legal_services.proceeding_save(proceeding=proceeding, user=self.user, reason=REASON)
        proceeding.charges.set(
            Charge.objects.filter(code__in=["treason", "terrorism", "incitement_to_hatred"])
        )
        proceeding.defendants.set(
            Defender.objects.filter(
                full_name__in=["Javier Tarazona", "José Rafael Tarazona", "Omar de Dios García"]
            )
        )
        proceeding.incidents.set(
            Incident.objects.filter(case__title__startswith="Detención de Javier Tarazona")
        )
        legal_services.hearing_save(
            hearing=Hearing(
                proceeding=proceeding,
                scheduled_on=datetime.date(2021, 7, 4),
                kind=Hearing.Kind.PRESENTATION,
                held=True,
                outcome="Privativa de libertad; imputación por traición a la patria, "
                "terrorismo e incitación al odio (fecha de ejemplo).",
            ),
            user=self.user,
            reason=REASON,
        )
        reasons = [Hearing.DeferralReason.NO_TRANSFER, Hearing.DeferralReason.NO_SESSION]
        for n in range(14):  # the preliminary hearing, deferred 14 times (example dates)
            month = 10 + n * 3
            legal_services.hearing_save(
                hearing=Hearing(
                    proceeding=proceeding,
                    scheduled_on=datetime.date(2021 + (month - 1) // 12, (month - 1) % 12 + 1, 15),
                    kind=Hearing.Kind.PRELIMINARY,
                    held=False,
                    deferral_reason=reasons[n % 2],
                    outcome="Fecha de ejemplo.",
                ),
                user=self.user,
                reason=REASON,
            )
        legal_services.legal_action_save(
            action=LegalAction(
                proceeding=proceeding,
                kind=LegalAction.Kind.IACHR_MEASURES,
                filed_on=datetime.date(2021, 7, 5),
                body="CIDH",
                status=LegalAction.Status.FILED,
                outcome="Ejemplo.",
            ),
            user=self.user,
            reason=REASON,
        )

    def current_arrest(self):
        """An invented arrest of last week, still a draft (so it changes no figure), with a
        court case whose hearings fall this week and next: what the lawyers' agenda shows.
        Its dates follow the day the demo is loaded."""
        case = self.new_case(
            "Detención de un activista ficticio en Mérida (ejemplo)",
            confidentiality=Case.Confidentiality.INTERNAL,
            state=State.MERIDA,
            place="Mérida",
        )
        if case is None:
            return
        self.team(case, ["documentalista", "abogada"])
        today = timezone.localdate()
        arrested = today - datetime.timedelta(days=6)
        person = self.defender("Activista Ficticio de Mérida", profiles=["activist"])
        incident = self.incident(
            case,
            type=T.ARBITRARY_DETENTION,
            occurred_on=arrested,
            defender=person,
            state=State.MERIDA,
            perpetrators=[(self.perpetrator["sebin"], Involvement.Role.PERPETRATED)],
        )
        lawyer = get_user_model().objects.filter(username="abogada").first()
        detention = Detention(
            incident=incident,
            arrested_on=arrested,
            arrested_at=datetime.time(6, 30),
            arrest_place="Mérida (ejemplo)",
            arresting_body=self.perpetrator["sebin"],
            place_of_detention="Sede del SEBIN en Mérida (ejemplo)",
            status=Detention.Status.DETAINED,
            counsel=Detention.Counsel.CHOSEN,
            lawyer=lawyer,
            last_news_on=today - datetime.timedelta(days=2),
        )
        legal_services.detention_save(detention=detention, user=self.user, reason=REASON)
        proceeding = Proceeding(
            court="Tribunal 1.º de Control de Mérida (ejemplo)",
            stage=Proceeding.Stage.INVESTIGATION,
            pretrial_detention_since=arrested,
            lawyer=lawyer,
        )
        legal_services.proceeding_save(proceeding=proceeding, user=self.user, reason=REASON)
        proceeding.defendants.set([person])
        proceeding.incidents.set([incident])
        monday = today - datetime.timedelta(days=today.weekday())
        for day, at, kind in [
            (monday + datetime.timedelta(days=3), datetime.time(10), Hearing.Kind.PRELIMINARY),
            (monday + datetime.timedelta(days=8), datetime.time(9, 30), Hearing.Kind.OTHER),
        ]:
            legal_services.hearing_save(
                hearing=Hearing(
                    proceeding=proceeding, scheduled_on=day, scheduled_at=at, kind=kind
                ),
                user=self.user,
                reason=REASON,
            )

    def protected(self):
        """A restricted case about a defender under identity protection: only its team
        (documentalista) and coordinators see it; a draft, so it changes no figure."""
        case = self.new_case(
            "Amenazas a una defensora que pidió reserva (ejemplo, restringido)",
            confidentiality=Case.Confidentiality.RESTRICTED,
            state=State.TACHIRA,
        )
        if case is None:
            return
        self.team(case, ["documentalista"])
        defender = self._get_or_save(
            Defender,
            {"full_name": "Testigo Reservada Ejemplar"},
            {"identity_protected": True, "state": State.TACHIRA},
        )
        self.incident(
            case,
            type=T.THREAT,
            occurred_on=datetime.date(2021, 7, 20),
            defender=defender,
            perpetrators=[(self.perpetrator["colectivo"], "perpetrated")],
        )
        services.source_create(
            user=self.user,
            case=case,
            kind="testimony",
            title="Testimonio directo (ejemplo)",
            confidential=True,
            witness="Nombre reservado (ejemplo)",
            reason=REASON,
        )

    @transaction.atomic
    def load(self):
        self.user = system_user()
        self.log(_("People, organizations and perpetrators…"))
        self.perpetrator = self.perpetrators()
        self.orgs, self.defenders = self.invented_people()
        first_half = spread(FIRST_HALF_TYPES)
        start = 0
        for month, total, against_defenders in FIRST_HALF_MONTHS:
            self.month(month, first_half[start : start + total], against_defenders)
            start += total
            self.log(
                _("  %(month)s: %(count)d counted incidents")
                % {"month": f"{YEAR}-{month:02d}", "count": total}
            )
        self.tarazona()
        self.month(7, spread(JULY_OTHER_TYPES), JULY_OTHER_AGAINST_DEFENDERS)
        self.log(
            _("  %(month)s: %(count)d counted incidents (the Tarazona case included)")
            % {"month": f"{YEAR}-07", "count": 140}
        )
        self.not_counted()
        self.protected()
        self.tarazona_legal()
        # What happened in 2021 is not news: nobody is told of it. The invented arrest of
        # last week is (its lawyer finds it under the bell), and so is what is due now.
        Notification.objects.all().delete()
        self.current_arrest()
        legal_notices.due(timezone.now())
        case_notices.review_digest(timezone.localdate())
        self.log(_("  not counted: a draft, a retracted case, a duplicate, a year-only date"))
        return self.created
