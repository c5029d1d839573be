"""The form a lawyer opens an arrest with (legal.services.arrest_open)."""

import datetime

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cases.models import Case, Source
from legal.models import Detention
from organizations.models import Perpetrator
from organizations.vocabularies import PerpetratorCategory, State

# The bodies that arrest people: security and armed forces, and those not identified.
ARRESTING_CATEGORIES = (
    PerpetratorCategory.SECURITY_FORCE,
    PerpetratorCategory.ARMED_FORCES,
    PerpetratorCategory.UNKNOWN,
)


class ArrestForm(forms.Form):
    full_name = forms.CharField(label=_("Who was arrested"), max_length=255)
    identity_protected = forms.BooleanField(
        label=_("Protect their identity"),
        required=False,
        help_text=_(
            "Tick it if the person or their family asked for it: the name is then seen only by "
            "the case team and coordinators, and everyone else reads a pseudonym."
        ),
    )
    arrested_on = forms.DateField(
        label=_("Date of arrest"), widget=forms.DateInput(attrs={"type": "date"})
    )
    arrested_at = forms.TimeField(
        label=_("Time of arrest"), required=False, widget=forms.TimeInput(attrs={"type": "time"})
    )
    arrest_place = forms.CharField(label=_("Place of arrest"), max_length=255, required=False)
    state = forms.ChoiceField(label=_("State"), choices=[("", "—"), *State.choices], required=False)
    arresting_body = forms.ModelChoiceField(
        label=_("Arresting body"),
        queryset=Perpetrator.objects.filter(
            kind=Perpetrator.Kind.INSTITUTION,
            merged_into=None,
            category__in=ARRESTING_CATEGORIES,
        ).order_by("name"),
        help_text=_("Police, military and intelligence bodies; leave it empty if unknown."),
        required=False,
    )
    place_of_detention = forms.CharField(
        label=_("Where they are held"), max_length=255, required=False
    )
    status = forms.ChoiceField(
        label=_("Status"),
        choices=[
            (value, label)
            for value, label in Detention.Status.choices
            if value not in Detention.FREE_STATUSES
        ],
        initial=Detention.Status.DETAINED,
    )
    counsel = forms.ChoiceField(
        label=_("Legal counsel"), choices=Detention.Counsel.choices, initial="none"
    )
    summary = forms.CharField(
        label=_("What happened"), widget=forms.Textarea(attrs={"rows": 4}), required=False
    )
    confidentiality = forms.ChoiceField(
        label=_("Confidentiality"),
        choices=[
            (value, label)
            for value, label in Case.Confidentiality.choices
            if value != Case.Confidentiality.PUBLIC
        ],
        initial=Case.Confidentiality.INTERNAL,
        help_text=_("A reviewer decides later whether it may be published."),
    )
    source_kind = forms.ChoiceField(
        label=_("How we know"), choices=Source.Kind.choices, initial=Source.Kind.TESTIMONY
    )
    source_title = forms.CharField(
        label=_("Source"),
        max_length=300,
        help_text=_("E.g. “Call from the detainee's sister, 3 July 2021”."),
    )
    source_url = forms.URLField(label=_("Link"), required=False, assume_scheme="https")
    source_confidential = forms.BooleanField(
        label=_("The source is confidential"), required=False, initial=True
    )

    def clean_arrested_on(self):
        day = self.cleaned_data["arrested_on"]
        if day > timezone.localdate():
            raise forms.ValidationError(_("The arrest cannot be in the future."))
        if day < datetime.date(1990, 1, 1):
            raise forms.ValidationError(_("Check the year."))
        return day

    def arrest(self) -> dict:
        data = dict(self.cleaned_data)
        source = {
            "kind": data.pop("source_kind"),
            "title": data.pop("source_title"),
            "url": data.pop("source_url"),
            "confidential": data.pop("source_confidential"),
            "reliability": Source.Reliability.PROBABLE,
        }
        return {**data, "source": source}
