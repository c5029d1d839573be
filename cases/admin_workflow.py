"""The workflow in the admin: a button on the case page for every move the user may make,
each with its own page (a reason where the move needs one; a warning before publishing a case
allies will not receive; four eyes, and a coordinator's waiver); the same moves as list
actions; and a reason for any change to a case that is already counted."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from cases import duplicates, services, workflow
from cases.models import Case

Status = Case.Status

# The button of each move, by (from, to).
MOVE_LABELS = {
    (Status.DRAFT, Status.IN_REVIEW): _("Send to review"),
    (Status.IN_REVIEW, Status.DRAFT): _("Send back to the documentalist"),
    (Status.IN_REVIEW, Status.VERIFIED): _("Verify"),
    (Status.VERIFIED, Status.IN_REVIEW): _("Back to review"),
    (Status.VERIFIED, Status.PUBLISHED): _("Publish"),
    (Status.VERIFIED, Status.RETRACTED): _("Retract"),
    (Status.PUBLISHED, Status.RETRACTED): _("Retract"),
}


class MoveForm(forms.Form):
    reason = forms.CharField(
        label=_("Why"),
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Written into the case's history."),
    )
    override = forms.CharField(
        label=_("Why you waive four eyes"),
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Coordinators only. Written into the case's history."),
    )

    def __init__(self, *args, reason_required=False, may_waive=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reason"].required = reason_required
        if not may_waive:
            del self.fields["override"]


class RetractionForm(forms.Form):
    reason = forms.CharField(
        label=_("Why are these cases retracted?"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Written into each case's history. Retracted cases are kept, not counted."),
    )


class HighlightForm(forms.Form):
    summary = forms.CharField(
        label=_("One line for the bulletin"),
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs={"size": 80, "style": "max-width: 100%"}),
        help_text=_(
            "Why this case matters, as the bulletin's narrative will say it (up to three "
            "highlighted cases per month, the most recent first). Leave it empty to stop "
            "highlighting the case."
        ),
    )


CHANGE_REASON = forms.CharField(
    label=_("Why this change"),
    required=False,
    max_length=300,
    help_text=_("This case is already counted: say why it changes (kept in its history)."),
)


def is_counted(case: Case | None) -> bool:
    return case is not None and case.pk is not None and case.status in Case.COUNTED_STATUSES


def give_reason(formsets, reason: str) -> None:
    """Every inline row saved with the page carries the reason typed on it."""
    for formset in formsets:
        for form in formset.forms:
            form.typed_reason = reason
            give_reason(getattr(form, "nested_formsets", []), reason)


class CountedChangeReasonMixin:
    """The change page of a record in a counted case asks why it changes: any change on the
    page, the inlines' included, is refused without a reason, which every history row the
    save writes then carries."""

    def counted_case(self, obj) -> Case | None:
        raise NotImplementedError

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if is_counted(self.counted_case(obj)) and self.has_change_permission(request, obj):
            return [(None, {"fields": ("change_reason",)}), *fieldsets]
        return fieldsets

    def save_related(self, request, form, formsets, change):
        typed = (form.cleaned_data.get("change_reason") or "").strip()
        changed = form.has_changed() or any(formset.has_changed() for formset in formsets)
        if change and changed and is_counted(self.counted_case(form.instance)) and not typed:
            raise ValidationError(
                _("This case is already counted: say why it changes, in “Why this change”.")
            )
        give_reason(formsets, typed)
        super().save_related(request, form, formsets, change)


class CaseWorkflowMixin:
    """The case admin's workflow: buttons, move pages and list actions."""

    actions = ("submit_for_review", "verify", "publish", "retract")
    change_form_template = "admin/cases/case/change_form.html"

    def get_urls(self):
        view = self.admin_site.admin_view(self.move_view)
        return [
            path("<path:object_id>/move/<str:status>/", view, name="cases_case_move"),
            path(
                "<path:object_id>/highlight/",
                self.admin_site.admin_view(self.highlight_view),
                name="cases_case_highlight",
            ),
            *super().get_urls(),
        ]

    def render_change_form(self, request, context, add=False, change=False, **kwargs):
        case = context.get("original")
        if case is not None and not add:
            context["moves"] = [
                {
                    "label": MOVE_LABELS[(case.status, status)],
                    "url": reverse("admin:cases_case_move", args=[case.pk, status]),
                    "status": status,
                }
                for status in workflow.moves_for(case, request.user)
            ]
            if workflow.may_highlight(case, request.user):
                context["highlight_url"] = reverse("admin:cases_case_highlight", args=[case.pk])
            # A press item already recorded elsewhere may be the same attack reported twice.
            context["cited_elsewhere"] = duplicates.sources_cited_elsewhere(case, request.user)
        return super().render_change_form(request, context, add=add, change=change, **kwargs)

    def move_view(self, request, object_id, status):
        case = self.get_object(request, object_id)
        if case is None:
            raise Http404
        if status not in Status.values:
            raise Http404
        if not workflow.may_move(case, request.user, status):
            raise PermissionDenied
        blocked = workflow.four_eyes_problem(case, request.user, status)
        may_waive = bool(blocked) and request.user.has_perm("cases.view_all_cases")
        form = MoveForm(
            request.POST or None,
            reason_required=workflow.needs_reason(case, status),
            may_waive=may_waive,
        )
        if request.method == "POST" and form.is_valid() and (not blocked or may_waive):
            try:
                services.case_transition(
                    case=case,
                    user=request.user,
                    status=status,
                    reason=form.cleaned_data["reason"],
                    override=form.cleaned_data.get("override", ""),
                )
            except ValidationError as error:
                form.add_error(None, error)
            else:
                messages.success(
                    request,
                    _("“%(case)s” is now “%(status)s”.")
                    % {"case": case, "status": case.get_status_display()},
                )
                return HttpResponseRedirect(reverse("admin:cases_case_change", args=[case.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": MOVE_LABELS[(case.status, status)],
            "opts": self.model._meta,
            "original": case,
            "case": case,
            "form": form,
            "blocked": blocked,
            "may_waive": may_waive,
            "not_shared": status == Status.PUBLISHED
            and case.confidentiality != Case.Confidentiality.PUBLIC,
        }
        return TemplateResponse(request, "admin/cases/case/move.html", context)

    def highlight_view(self, request, object_id):
        case = self.get_object(request, object_id)
        if case is None:
            raise Http404
        if not workflow.may_highlight(case, request.user):
            raise PermissionDenied
        form = HighlightForm(request.POST or None, initial={"summary": case.highlight})
        if request.method == "POST" and form.is_valid():
            try:
                services.case_highlight(
                    case=case, user=request.user, summary=form.cleaned_data["summary"]
                )
            except ValidationError as error:
                form.add_error(None, error)
            else:
                done = (
                    _("“%(case)s” is highlighted in its months' bulletins.")
                    if case.highlight
                    else _("“%(case)s” is no longer highlighted.")
                )
                messages.success(request, done % {"case": case})
                return HttpResponseRedirect(reverse("admin:cases_case_change", args=[case.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": _("Highlight in the bulletin"),
            "opts": self.model._meta,
            "original": case,
            "case": case,
            "form": form,
        }
        return TemplateResponse(request, "admin/cases/case/highlight.html", context)

    def has_submit_permission(self, request):
        return request.user.has_perm("cases.submit_case")

    def has_verify_permission(self, request):
        return request.user.has_perm("cases.verify_case")

    def has_publish_permission(self, request):
        return request.user.has_perm("cases.publish_case")

    def has_retract_permission(self, request):
        return request.user.has_perm("cases.retract_case")

    def _transition(self, request, queryset, service):
        moved, not_shared = 0, 0
        for case in queryset:
            try:
                service(case=case, user=request.user)
            except ValidationError as error:
                messages.error(request, f"{case}: {' '.join(error.messages)}")
            else:
                moved += 1
                if case.status == Status.PUBLISHED:
                    not_shared += case.confidentiality != Case.Confidentiality.PUBLIC
        if moved:
            messages.success(
                request,
                ngettext("%(count)d case updated.", "%(count)d cases updated.", moved)
                % {"count": moved},
            )
        if not_shared:
            messages.warning(
                request,
                ngettext(
                    "%(count)d published case is not public: allies will not receive it.",
                    "%(count)d published cases are not public: allies will not receive them.",
                    not_shared,
                )
                % {"count": not_shared},
            )

    @admin.action(description=_("Send to review"), permissions=["submit"])
    def submit_for_review(self, request, queryset):
        self._transition(request, queryset, services.case_submit_for_review)

    @admin.action(description=_("Verify"), permissions=["verify"])
    def verify(self, request, queryset):
        self._transition(request, queryset, services.case_verify)

    @admin.action(description=_("Publish"), permissions=["publish"])
    def publish(self, request, queryset):
        self._transition(request, queryset, services.case_publish)

    @admin.action(description=_("Retract…"), permissions=["retract"])
    def retract(self, request, queryset):
        """Asks why first (the reason goes into each case's history); the cases are kept,
        never counted again."""
        form = RetractionForm(request.POST if "reason" in request.POST else None)
        if form.is_valid():
            reason = form.cleaned_data["reason"]
            self._transition(
                request,
                queryset,
                lambda case, user: services.case_retract(case=case, user=user, reason=reason),
            )
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": _("Retract cases"),
            "cases": queryset,
            "form": form,
            "opts": self.model._meta,
            "action": "retract",
            "selected": request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME),
        }
        return TemplateResponse(request, "admin/cases/case/retract.html", context)
