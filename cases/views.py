from django.contrib.auth.decorators import permission_required
from django.http import FileResponse, Http404
from django.shortcuts import render
from django.utils.translation import gettext as _
from django_otp.decorators import otp_required

from accounts.models import SecurityEvent
from accounts.services import security_event_record
from cases import extraction, search
from cases.models import ArchivedCopy, Source


@otp_required
@permission_required("cases.view_source", raise_exception=True)
def source_file(request, name: str):
    """A source's file, or an archived copy of its link, for those who may see the source
    (restricted cases and confidential sources included); every download is in the security
    log."""
    visible = Source.objects.visible_to(request.user)
    source = visible.filter(file=name).first()
    stored = source.file if source is not None else None
    if source is None:  # an archived copy of a source's link, under the source's rules
        copy = ArchivedCopy.objects.filter(file=name, source__in=visible).first()
        if copy is None:
            raise Http404
        source, stored = copy.source, copy.file
    security_event_record(
        kind=SecurityEvent.Kind.EXPORT,
        request=request,
        user=request.user,
        source=str(source.public_id),
        file=name,
    )
    return FileResponse(stored.open("rb"), as_attachment=True, filename=stored.name.split("/")[-1])


@otp_required
@permission_required("cases.view_case", raise_exception=True)
def search_view(request):
    """The one search box: cases, incidents, people, organizations, perpetrators and
    sources (their archived copies and files too), as far as the reader may see them."""
    text = request.GET.get("q", "").strip()[:200]
    groups = search.search(request.user, text) if text else []
    context = {
        "title": _("Search"),
        "has_permission": True,
        "q": text,
        "groups": groups,
        "searched": bool(text),
        "nothing": bool(groups) and not any(group.hits for group in groups),
        "no_words": bool(text) and not groups,
        "ocr_missing": extraction.tesseract() is None,
    }
    return render(request, "cases/search.html", context)
