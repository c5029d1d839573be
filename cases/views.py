from django.contrib.auth.decorators import permission_required
from django.http import FileResponse, Http404
from django_otp.decorators import otp_required

from accounts.models import SecurityEvent
from accounts.services import security_event_record
from cases.models import Source


@otp_required
@permission_required("cases.view_source", raise_exception=True)
def source_file(request, name: str):
    """A source's file, for those who may see the source (restricted cases and confidential
    sources included); every download is in the security log."""
    source = Source.objects.visible_to(request.user).filter(file=name).first()
    if source is None:
        raise Http404
    security_event_record(
        kind=SecurityEvent.Kind.EXPORT,
        request=request,
        user=request.user,
        source=str(source.public_id),
        file=name,
    )
    return FileResponse(
        source.file.open("rb"), as_attachment=True, filename=source.file.name.split("/")[-1]
    )
